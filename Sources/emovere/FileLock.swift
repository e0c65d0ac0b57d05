import Foundation

/// An exclusive lock (`flock`) on a file or folder, held until the lock is released with its descriptor: one run
/// writes a results file, or a training run's folder, at a time.
final class FileLock: Sendable {
    private let descriptor: Int32

    /// Locks the file or folder open as `descriptor` (which the lock then owns), or throws naming `path` when another
    /// process holds its lock; `remedy` is the other choice the message offers (e.g. "choose another --output").
    init(descriptor: Int32, path: String, remedy: String) throws {
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(descriptor)
            throw CommandFailure(code == EWOULDBLOCK
                ? "\(path) is being written by another emovere run (it holds the lock); wait for that run to end, or \(remedy)"
                : "cannot lock \(path): \(String(cString: strerror(code)))")
        }
        self.descriptor = descriptor
    }

    /// Locks the folder at `path`.
    convenience init(folder path: String, remedy: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CommandFailure("cannot open the folder \(path): \(String(cString: strerror(errno)))")
        }
        try self.init(descriptor: descriptor, path: path, remedy: remedy)
    }

    deinit { close(descriptor) }
}
