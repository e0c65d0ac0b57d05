#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole files read with POSIX calls: the one reader behind images, CSV files, model files and ONNX files.
public enum FileContents {
    /// Why a file could not be read: its `path` and the reason (the system's message, or what was found instead
    /// of a regular file).
    public struct ReadError: Error, Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var reason: String

        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }

        public var description: String { "cannot read \(path): \(reason)" }
    }

    /// The most bytes a whole file read may hold unless its reader says otherwise (2 GiB: far above any model
    /// file or FER2013's CSV file, below what would take a machine's memory).
    public static let largestFileBytes = 1 << 31
    /// The most bytes of a small document (a cascade, a report, a recipe, a list of photos): 64 MiB.
    public static let largestDocumentBytes = 64 << 20

    /// The bytes of the regular file at `path` (symbolic links followed). A folder, named pipe, device or socket is
    /// refused without reading: a pipe opens without blocking and is never waited on. A file of more than
    /// `maximumBytes` is refused before it is read (a sparse or mislabelled file would take all memory).
    public static func bytes(atPath path: String, maximumBytes: Int = largestFileBytes) throws(ReadError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw ReadError(path: path, reason: systemMessage(errno)) }
        defer { _ = close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw ReadError(path: path, reason: systemMessage(errno)) }
        try checkRegular(status, path: path)
        guard Int(status.st_size) <= maximumBytes else {
            throw ReadError(path: path, reason: "it holds \(status.st_size) bytes, more than the \(maximumBytes) expected at most")
        }
        // The size is a first guess: what a growing file adds is read in chunks beyond it, to its end.
        var bytes = [UInt8](repeating: 0, count: max(Int(status.st_size), 0))
        var chunk: [UInt8] = []
        var total = 0
        while true {
            let count: Int
            if total < bytes.count {
                count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + total, $0.count - total) }
            } else {
                if chunk.isEmpty { chunk = [UInt8](repeating: 0, count: 1 << 16) }
                count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 { bytes += chunk[0..<count] }
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(path: path, reason: systemMessage(errno))
            }
            if count == 0 { break }
            total += count
            guard total <= maximumBytes else {
                throw ReadError(path: path, reason: "it grew past the \(maximumBytes) bytes expected at most")
            }
        }
        bytes.removeSubrange(total...)
        return bytes
    }

    /// Everything left to read from `descriptor` (standard input, a pipe), a piece at a time, or nil (having read
    /// `limit` bytes or more) as soon as it holds more than `limit` bytes: memory stays within the limit whatever
    /// the writer sends. Errors name the input as `name` (Foundation's `availableData` stopped the process on them).
    public static func bytes(readingToEnd descriptor: Int32, limit: Int, name: String) throws(ReadError) -> [UInt8]? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                switch errno {
                case EINTR:
                    continue
                case EAGAIN:
                    // A descriptor left non-blocking by whoever opened it: wait until it has bytes.
                    var readable = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                    _ = poll(&readable, 1, -1)
                    continue
                default:
                    throw ReadError(path: name, reason: systemMessage(errno))
                }
            }
            if count == 0 { return bytes }  // the end: the writer closed its side
            guard bytes.count + count <= limit else { return nil }
            bytes += chunk[0..<count]
        }
    }

    /// Throws unless `path` is a regular file (symbolic links followed), for readers that open files themselves
    /// (libhdf5): a folder, named pipe, device or socket is refused without opening it.
    public static func checkRegularFile(atPath path: String) throws(ReadError) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw ReadError(path: path, reason: systemMessage(errno)) }
        try checkRegular(status, path: path)
    }

    private static func checkRegular(_ status: stat, path: String) throws(ReadError) {
        let kind = status.st_mode & S_IFMT
        guard kind != S_IFREG else { return }
        let found = switch kind {
        case S_IFDIR: "a folder"
        case S_IFIFO: "a named pipe"
        case S_IFSOCK: "a socket"
        case S_IFCHR, S_IFBLK: "a device"
        default: "not a regular file"
        }
        throw ReadError(path: path, reason: "expected a regular file, found \(found)")
    }

    private static func systemMessage(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }
}
