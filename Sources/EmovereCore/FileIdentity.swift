#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// Which file a path named when it was looked at: its device and inode, size and modification time. Emovere's
/// writers replace a file by renaming a new one over it, so a file written again is another inode (or, should the
/// system hand a freed inode number out again, one with another modification time); a file edited in place keeps its
/// inode, and is told apart by its size or modification time, unless both match (an edit of the same size within one
/// tick of the file system's clock). A reader that rewrites what it read (`evaluate --record` editing a model's card)
/// passes the identity it read to `AtomicFile.write(_:to:replacing:)`, which refuses to replace a file written
/// meanwhile by another program (a training run saving a new best model).
public struct FileIdentity: Equatable, Sendable, CustomStringConvertible {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modificationSeconds: Int64
    var modificationNanoseconds: Int64

    /// The identity of the file at `path` (symbolic links followed); nil when there is none.
    public init?(ofFileAt path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        device = UInt64(truncatingIfNeeded: status.st_dev)  // a signed 32-bit number on Darwin
        inode = UInt64(truncatingIfNeeded: status.st_ino)
        size = Int64(status.st_size)
        #if canImport(Darwin)
        modificationSeconds = Int64(status.st_mtimespec.tv_sec)
        modificationNanoseconds = Int64(status.st_mtimespec.tv_nsec)
        #else
        modificationSeconds = Int64(status.st_mtim.tv_sec)
        modificationNanoseconds = Int64(status.st_mtim.tv_nsec)
        #endif
    }

    /// Inode, size and modification time (seconds since 1970), e.g. `inode 1234, 2962344 bytes, modified 1796680000.123456789`.
    public var description: String {
        let nanoseconds = String(modificationNanoseconds)
        let fraction = String(repeating: "0", count: max(0, 9 - nanoseconds.count)) + nanoseconds
        return "inode \(inode), \(size) bytes, modified \(modificationSeconds).\(fraction)"
    }
}
