#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// Which file a path named when it was looked at: its device and inode, size and modification time. Emovere's
/// writers replace a file by renaming a new one over it, so a file written again has a new identity; one edited in
/// place keeps its inode but not its time and size. A reader that rewrites what it read (`evaluate --record`
/// editing a model's card) passes the identity it read to `AtomicFile.write(_:to:replacing:)`, which refuses to
/// replace a file written meanwhile by another program (a training run saving a new best model).
public struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modificationSeconds: Int64
    var modificationNanoseconds: Int64

    /// The identity of the file at `path` (symbolic links followed); nil when there is none.
    public init?(ofFileAt path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        size = Int64(status.st_size)
        #if canImport(Darwin)
        modificationSeconds = Int64(status.st_mtimespec.tv_sec)
        modificationNanoseconds = Int64(status.st_mtimespec.tv_nsec)
        #else
        modificationSeconds = Int64(status.st_mtim.tv_sec)
        modificationNanoseconds = Int64(status.st_mtim.tv_nsec)
        #endif
    }
}
