import ArgumentParser
import EmovereCore
import EmovereNN
import Foundation

/// A text output written to a hidden temporary file beside its destination and renamed there by `commit()`.
final class PendingFile {
    let path: String
    let temporaryPath: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var closed = false

    init(path: String) throws {
        self.path = path
        temporaryPath = try AtomicFile.temporaryPath(for: path, tag: "partial")
        guard FileManager.default.createFile(atPath: temporaryPath, contents: nil) else {
            throw CommandFailure("\(path): cannot create \(temporaryPath)")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporaryPath))
    }

    deinit {
        if !closed { discard() }
    }

    /// Appends `text` (buffered).
    func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        do {
            try handle.write(contentsOf: buffer)
        } catch {
            throw CommandFailure("\(path): writing \(temporaryPath) failed: \(Self.reason(error))")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// The system's reason inside a Foundation file error ("No space left on device"), else the error itself.
    static func reason(_ error: any Error) -> String {
        let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
        return underlying.map { String(cString: strerror(Int32($0.code))) } ?? "\(error)"
    }

    /// Writes what is buffered, syncs and closes the file and renames it to `path` (`AtomicFile.commit`).
    func commit() throws {
        try flush()
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw CommandFailure("\(path): writing \(temporaryPath) failed: \(Self.reason(error))")
        }
        closed = true
        do {
            try AtomicFile.commit(temporaryPath: temporaryPath, to: path)
        } catch {
            discard()
            throw error
        }
    }

    /// Closes and removes the temporary file.
    func discard() {
        if !closed {
            closed = true
            do { try handle.close() } catch {
                StandardError.write("warning: closing \(temporaryPath): \(error)\n")
            }
        }
        guard FileManager.default.fileExists(atPath: temporaryPath) else { return }
        do { try FileManager.default.removeItem(atPath: temporaryPath) } catch {
            StandardError.write("warning: could not remove \(temporaryPath): \(error)\n")
        }
    }
}
