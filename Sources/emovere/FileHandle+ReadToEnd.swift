import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension FileHandle {
    /// Everything left to read, a piece at a time, or nil (having read `limit` bytes or more) as soon as it holds
    /// more than `limit` bytes: memory stays within the limit whatever the writer sends.
    /// - Throws: `CommandFailure` naming `name` when reading fails (standard input that is a folder, or closed);
    ///   Foundation's `availableData` stopped the process there.
    func readToEnd(limit: Int, name: String) throws -> [UInt8]? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Self.systemRead(fileDescriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                switch errno {
                case EINTR:
                    continue
                case EAGAIN:
                    // A descriptor left non-blocking by whoever opened it: wait until it has bytes.
                    var readable = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
                    _ = poll(&readable, 1, -1)
                    continue
                default:
                    throw CommandFailure("cannot read \(name): \(String(cString: strerror(errno)))")
                }
            }
            if count == 0 { return bytes }  // the end: the writer closed its side
            guard bytes.count + count <= limit else { return nil }
            bytes += chunk[0..<count]
        }
    }

    private static func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.read(descriptor, buffer, count)
        #elseif canImport(Musl)
        Musl.read(descriptor, buffer, count)
        #else
        Darwin.read(descriptor, buffer, count)
        #endif
    }
}
