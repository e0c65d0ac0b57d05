import ArgumentParser
import EmovereVision
import Foundation
import Synchronization

/// An append-only JSON Lines file of photo results: each line is written whole with one `write`, so a run that
/// stops leaves at most one partial last line, which `resume` cuts off before appending.
final class ResultLog: Sendable {
    /// The paths whose line the file already held when it was opened.
    let finished: Set<String>
    private let handle: FileHandle
    private let path: String
    /// One append at a time.
    private let appending = Mutex(())

    init(path: String, resume: Bool) throws {
        self.path = path
        var finished: Set<String> = []
        if FileManager.default.fileExists(atPath: path) {
            guard resume else {
                throw CommandFailure("\(path) already exists; pass --resume to continue it or choose another --output")
            }
            var bytes = try ImageFile.bytes(atPath: path)
            if let end = bytes.lastIndex(of: 10), end + 1 < bytes.count {
                bytes.removeSubrange((end + 1)...)
                guard truncate(path, off_t(bytes.count)) == 0 else {
                    throw CommandFailure("\(path): cannot cut off the unfinished last line: \(String(cString: strerror(errno)))")
                }
            } else if !bytes.isEmpty && bytes.last != 10 {
                bytes = []
                guard truncate(path, 0) == 0 else {
                    throw CommandFailure("\(path): cannot cut off the unfinished line: \(String(cString: strerror(errno)))")
                }
            }
            for (number, line) in bytes.split(separator: 10).enumerated() {
                struct Finished: Decodable { var path: String }
                guard let entry = try? JSONDecoder().decode(Finished.self, from: Data(line)) else {
                    throw CommandFailure("\(path):\(number + 1): expected a JSON object with a \"path\" (a line of emovere analyze or video --output)")
                }
                finished.insert(entry.path)
            }
        }
        self.finished = finished
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard descriptor >= 0 else {
            throw CommandFailure("cannot open \(path) for appending: \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Appends `result` (a photo's or a video's record, with its `path`) as one line.
    func append(_ result: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = Array(try encoder.encode(result)) + [10]
        try appending.withLock { _ in
            do {
                try handle.write(contentsOf: line)
            } catch {
                throw CommandFailure("cannot append to \(path): \(error)")
            }
        }
    }
}
