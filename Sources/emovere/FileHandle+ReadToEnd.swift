import Foundation

extension FileHandle {
    /// Everything left to read, a piece at a time, or nil (having read `limit` bytes or more) as soon as it holds
    /// more than `limit` bytes: memory stays within the limit whatever the writer sends.
    func readToEnd(limit: Int) -> [UInt8]? {
        var bytes: [UInt8] = []
        while true {
            let chunk = availableData
            if chunk.isEmpty { return bytes }  // the end: the writer closed its side
            guard bytes.count + chunk.count <= limit else { return nil }
            bytes += chunk
        }
    }
}
