import ArgumentParser
import EmovereVision
import Foundation
import Synchronization

/// An append-only JSON Lines file of photo or video results: each line is written whole with one `write`, so a run
/// that stops leaves at most one partial last line, which `resume` cuts off before appending (once every complete
/// line has been read as a result: a file of something else is refused untouched).
final class ResultLog: Sendable {
    /// One complete line of the file: the input it answers, and what produced it (`analyze` lines only).
    struct Entry: Decodable {
        var path: String
        var error: String?
        /// A video's summary: a video that broke off has one beside its error (what was analysed).
        var summary: Present?
        var model: String?
        var detector: DetectorDescription?
    }

    /// A JSON value whose content does not matter here, only that it is there.
    struct Present: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    /// What produced the lines of `analyze`: a resume with another model file or detector is refused.
    struct Provenance {
        let model: String
        let detector: DetectorDescription
        /// `model` resolved (`OutputPaths.canonical`), once.
        let canonicalModel: String

        init(model: String, detector: DetectorDescription) {
            self.model = model
            self.detector = detector
            canonicalModel = OutputPaths.canonical(model)
        }
    }

    /// The inputs done: whose line the file already held without an error, or with what was analysed of a video
    /// that broke off (a photo or video that failed is tried again on resume, and its new line follows the old).
    let finished: Set<String>
    private let handle: FileHandle
    private let path: String
    /// One append at a time.
    private let appending = Mutex(())

    /// Opens `path` for appending; an existing file only with `resume`, once every complete line has been read as a
    /// result (and, given `provenance`, written by the same model file and detector): only then is a partial last
    /// line cut off, so a file that is refused is left as it was.
    init(path: String, resume: Bool, provenance: Provenance? = nil) throws {
        self.path = path
        var entries: [Entry] = []
        if FileManager.default.fileExists(atPath: path) {
            guard resume else {
                throw CommandFailure("\(path) already exists; pass --resume to continue it or choose another --output")
            }
            let bytes = try ImageFile.bytes(atPath: path)
            let complete = bytes.lastIndex(of: 10).map { $0 + 1 } ?? 0
            for (number, line) in bytes[..<complete].split(separator: 10).enumerated() {
                guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(line)) else {
                    throw CommandFailure("\(path):\(number + 1): expected a JSON object with a \"path\" (a line of emovere analyze or video --output); the file was left as it was")
                }
                if let provenance { try Self.check(entry, line: number + 1, of: path, against: provenance) }
                entries.append(entry)
            }
            if complete < bytes.count {
                // Only the start of a line this command writes is cut off, never the end of some other file.
                guard bytes[complete] == UInt8(ascii: "{") else {
                    throw CommandFailure("\(path):\(entries.count + 1): expected a JSON object with a \"path\" (a line of emovere analyze or video --output); the file was left as it was")
                }
                guard truncate(path, off_t(complete)) == 0 else {
                    throw CommandFailure("\(path): cannot cut off the unfinished last line: \(String(cString: strerror(errno)))")
                }
            }
        }
        finished = Set(entries.filter { $0.error == nil || $0.summary != nil }.map(\.path))
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard descriptor >= 0 else {
            throw CommandFailure("cannot open \(path) for appending: \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Throws when `entry` (line `line` of `path`) was written with another model file or detector than `provenance`:
    /// one file of results would mix two analyses.
    private static func check(_ entry: Entry, line: Int, of path: String, against provenance: Provenance) throws {
        // Resolving a path costs system calls: only a line naming the model otherwise is resolved (once per line).
        if let recorded = entry.model, recorded != provenance.model,
           OutputPaths.canonical(recorded) != provenance.canonicalModel {
            throw CommandFailure("\(path):\(line): written with the model \(recorded), this run uses \(provenance.model); resume with the same --model or choose another --output (the file was left as it was)")
        }
        if let recorded = entry.detector, recorded != provenance.detector {
            throw CommandFailure("\(path):\(line): written with the detector \(recorded), this run uses \(provenance.detector); resume with the same detector options or choose another --output (the file was left as it was)")
        }
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
