import EmovereCore
import Foundation

extension FileHandle {
    /// Everything left to read (`FileContents.bytes(readingToEnd:limit:name:)`), or nil beyond `limit` bytes.
    /// - Throws: `CommandFailure` naming `name` when reading fails (standard input that is a folder, or closed).
    func readToEnd(limit: Int, name: String) throws -> [UInt8]? {
        do {
            return try FileContents.bytes(readingToEnd: fileDescriptor, limit: limit, name: name)
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
