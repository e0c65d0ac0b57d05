#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// The one way Emovere writes a file so that a crash or a full disk never leaves a half-written file under its
/// final name: the bytes go to a temporary file in the same folder, which is flushed with `fsync` and renamed over
/// the target, and the folder is synced; readers see the old file or the complete new one. A target that is a symbolic
/// link is written through: the file it names is replaced and the link stays (as the shell's `>` does). Model files,
/// checkpoints, cards, reports, plots and annotated photos are written with `write`; writers that stream into a
/// temporary file of their own (the `video` command's CSV and plot) finish with `commit`.
public enum AtomicFile {
    /// A step of an atomic write that failed.
    public struct WriteError: Error, CustomStringConvertible {
        /// The file being written.
        public var path: String
        /// The step: creating the temporary file, write, fsync, close, rename, syncing the folder, or
        /// `replacingTheFileRead` (the file there is no longer the one read).
        public var operation: String
        /// The system's reason.
        public var reason: String

        public var description: String { "cannot write \(path): \(operation) failed: \(reason)" }

        /// The `operation` of a write refused because the file it would replace is no longer the one read
        /// (`write(_:to:replacing:)`).
        public static let replacingTheFileRead = "replacing the file read"
    }

    /// Writes `bytes` to `path` atomically. With `replaced`, the identity of the file a caller read from `path`, a file
    /// there that is no longer that one (another program wrote it meanwhile) is left as it is and the write refused.
    /// (The check comes right before the rename: a write landing between the two is not seen.)
    public static func write(_ bytes: [UInt8], to path: String, replacing replaced: FileIdentity? = nil) throws(WriteError) {
        let temporaryPath = try temporaryPath(for: path, tag: "tmp")
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(0o644))
        guard descriptor >= 0 else { throw failure(path, "creating temporary file \(temporaryPath)") }
        var isOpen = true
        var isRenamed = false
        defer {
            if isOpen { _ = close(descriptor) }
            if !isRenamed { _ = unlink(temporaryPath) }
        }
        try writeAll(bytes, to: descriptor, path: path)
        guard fsync(descriptor) == 0 else { throw failure(path, "fsync") }
        isOpen = false
        guard close(descriptor) == 0 else { throw failure(path, "close") }
        try commit(temporaryPath: temporaryPath, to: path, replacing: replaced)
        isRenamed = true
    }

    /// Writes `text` as UTF-8 to `path` atomically.
    public static func write(_ text: String, to path: String) throws(WriteError) {
        try write(Array(text.utf8), to: path)
    }

    /// A fresh name for a temporary file beside `path` (hidden, with `tag`, the process id and a random part),
    /// ending in `suffix` (e.g. `.mp4` for a tool that picks its format from the extension). Creates `path`'s folder,
    /// and the folders above it, when missing, as `mkdir -p` does.
    public static func temporaryPath(for path: String, tag: String, suffix: String = "") throws(WriteError) -> String {
        let (directory, fileName) = split(try destination(of: path))
        guard !fileName.isEmpty else {
            throw WriteError(path: path, operation: "naming", reason: "expected a file path, found a directory path")
        }
        try createFolders(directory, for: path)
        return "\(directory)/.\(fileName).\(tag)-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))\(suffix)"
    }

    /// Renames the complete file at `temporaryPath` over `path` and syncs the folder; a file replaced keeps its
    /// permissions (a read-only model file stays read-only). A file its writer has not synced itself (another process
    /// wrote it) is flushed first when `synchronizingFile` is true. With `replaced`, a file at `path` that is no longer
    /// the one with that identity is refused (`write(_:to:replacing:)`).
    public static func commit(temporaryPath: String, to path: String, synchronizingFile: Bool = false,
                              replacing replaced: FileIdentity? = nil) throws(WriteError) {
        if synchronizingFile {
            let descriptor = open(temporaryPath, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw failure(path, "opening \(temporaryPath) to sync") }
            defer { _ = close(descriptor) }
            guard fsync(descriptor) == 0 else { throw failure(path, "fsync of \(temporaryPath)") }
        }
        let target = try destination(of: path)
        var current = stat()
        if stat(target, &current) == 0, current.st_mode & S_IFMT == S_IFREG {
            guard chmod(temporaryPath, current.st_mode & 0o7777) == 0 else {
                throw failure(path, "giving \(temporaryPath) the permissions of the file it replaces")
            }
        }
        if let replaced {
            switch FileIdentity(ofFileAt: target) {
            case replaced?:
                break
            case let found?:
                throw WriteError(path: path, operation: WriteError.replacingTheFileRead, reason: "another program wrote it after it was read (expected the file read, \(replaced); found \(found)); it was left as that program wrote it")
            case nil:
                throw WriteError(path: path, operation: WriteError.replacingTheFileRead, reason: "it was removed or moved after it was read (expected the file read, \(replaced); found none)")
            }
        }
        guard rename(temporaryPath, target) == 0 else { throw failure(path, "rename from \(temporaryPath)") }
        try synchronizeFolder(of: target)
    }

    /// Syncs the folder holding `path`, so a file created or renamed there survives a crash under its name. File
    /// systems that cannot sync a folder (EINVAL, ENOTSUP) are accepted.
    public static func synchronizeFolder(of path: String) throws(WriteError) {
        let directory = split(path).directory
        let descriptor = open(directory, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(path, "opening folder \(directory) to sync") }
        defer { _ = close(descriptor) }
        if fsync(descriptor) != 0, errno != EINVAL, errno != ENOTSUP {
            throw failure(path, "fsync of folder \(directory)")
        }
    }

    /// The file a write to `path` replaces: `path`, or where its chain of symbolic links ends (a link to a missing file
    /// names the file to create). A rename over the link itself would replace it with a plain file, and a rename over
    /// a device, pipe or socket (`/dev/null`) would replace it for every program, and one over the file behind a
    /// descriptor (`/dev/stdout` redirected with `>>`) would replace that file whole: those are refused. Commands call
    /// it in `validate()` (`OutputPaths.checkDistinct`), so such a name is refused before any work.
    public static func destination(of path: String) throws(WriteError) -> String {
        try checkReplaceable(path)
        var current = path
        for _ in 0..<40 {
            if namesDescriptor(current) {
                throw WriteError(path: path, operation: "replacing it", reason: "it names an open file descriptor (standard output or a shell redirection), not a file; name a file to write (emovere writes its outputs whole, through a temporary file renamed over the target)")
            }
            var status = stat()
            guard lstat(current, &status) == 0, status.st_mode & S_IFMT == S_IFLNK else { return current }
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlink(current, &target, target.count - 1)
            guard count > 0 else { throw failure(path, "reading the symbolic link \(current)") }
            let name = String(decoding: target[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let folder = split(current).directory
            current = name.hasPrefix("/") || !current.contains("/") ? name : folder + "/" + name
        }
        throw WriteError(path: path, operation: "following symbolic links", reason: "more than 40 links in a chain (a loop?)")
    }

    /// Throws when `path` exists (after following links) and is a device, pipe or socket: a file written there is not
    /// a file to replace (`/dev/null`, a FIFO). Part of `destination(of:)`, which commands call in `validate()`.
    private static func checkReplaceable(_ path: String) throws(WriteError) {
        var status = stat()
        if stat(path, &status) == 0, let kind = specialKind(status.st_mode) {
            throw WriteError(path: path, operation: "replacing it", reason: "it is \(kind), not a regular file; name a file to write (emovere writes its outputs whole, through a temporary file renamed over the target)")
        }
    }

    /// Whether `path` names a file descriptor (`/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`): its link leads to
    /// whatever the descriptor holds, e.g. the file a shell's `>>` appends to, which a rename would replace.
    private static func namesDescriptor(_ path: String) -> Bool {
        ["/dev/stdin", "/dev/stdout", "/dev/stderr"].contains(path) || path.hasPrefix("/dev/fd/")
            || (path.hasPrefix("/proc/") && path.contains("/fd/"))
    }

    /// What a file of `mode` is when it is neither a regular file nor a folder ("a device", "a named pipe", ...), or nil.
    private static func specialKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFIFO: "a named pipe"
        case S_IFSOCK: "a socket"
        default: nil
        }
    }

    /// Creates the folder at `path` and every missing folder above it, each one synced into the folder holding it (a
    /// folder created just before a crash could vanish with the files written into it).
    public static func createFolder(atPath path: String) throws(WriteError) {
        try createFolders(path, for: path)
    }

    /// Creates `directory` and every missing folder above it, each synced into its parent; an existing folder costs
    /// one `stat`.
    private static func createFolders(_ directory: String, for path: String) throws(WriteError) {
        var status = stat()
        if stat(directory, &status) != 0 {
            var prefix = directory.hasPrefix("/") ? "/" : ""
            for component in directory.split(separator: "/") {
                prefix += component + "/"
                if mkdir(prefix, mode_t(0o755)) == 0 {
                    try synchronizeFolder(of: String(prefix.dropLast()))
                } else if errno != EEXIST {
                    throw failure(path, "creating folder \(prefix)")
                }
            }
            guard stat(directory, &status) == 0 else { throw failure(path, "reading folder \(directory)") }
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw WriteError(path: path, operation: "creating folder \(directory)", reason: "a file of that name exists")
        }
    }

    /// The folder (`.` when none is given) and file name of `path`.
    static func split(_ path: String) -> (directory: String, fileName: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    /// Writes all of `bytes` to the open `descriptor` (of the file at `path`, for the error), retrying short writes
    /// and interruptions; a failure may leave part of them written.
    public static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(WriteError) {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { raw in
                systemWrite(descriptor, raw.baseAddress! + written, raw.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(path, "write")
            }
            written += count
        }
    }

    private static func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.write(descriptor, bytes, count)
        #elseif canImport(Musl)
        Musl.write(descriptor, bytes, count)
        #else
        Darwin.write(descriptor, bytes, count)
        #endif
    }

    /// Removes the temporary files in `directory` that writers killed mid-write left behind: names as `temporaryPath`
    /// makes them with the tags Emovere uses (`.NAME.tmp-PID-HEX`, `.NAME.partial-PID-HEX[SUFFIX]`) whose process is
    /// gone, and with `targets`, only those of files named there (a folder shared with other machines, as shards on
    /// a network disk share one, holds their writers' files, whose process ids mean nothing here). A file this user
    /// may not remove (another user's, in a sticky folder such as /tmp) is left. Returns the names removed; a missing
    /// folder holds none.
    public static func removeAbandonedTemporaryFiles(in directory: String, targets: Set<String>? = nil)
        throws(WriteError) -> [String] {
        guard let folder = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw failure(directory, "listing the folder")
        }
        var names: [String] = []
        while let entry = readdir(folder) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            names.append(name)
        }
        closedir(folder)
        var removed: [String] = []
        for name in names where name.hasPrefix(".") {
            let parts = name.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count >= 3 else { continue }
            let head = parts.dropLast(2).joined(separator: "-"), random = parts[parts.count - 1].prefix { $0 != "." }
            guard let tag = [".tmp", ".partial"].first(where: { head.hasSuffix($0) }), !random.isEmpty,
                  random.allSatisfy(\.isHexDigit), let pid = pid_t(parts[parts.count - 2]), pid > 0 else { continue }
            if let targets, !targets.contains(String(head.dropFirst().dropLast(tag.count))) { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            if unlink(directory + "/" + name) == 0 {
                removed.append(name)
            } else if ![ENOENT, EPERM, EACCES].contains(errno) {  // removed first by another sweep; not ours to remove
                throw failure(directory + "/" + name, "removing")
            }
        }
        return removed
    }

    private static func failure(_ path: String, _ operation: String) -> WriteError {
        let code = errno
        return WriteError(path: path, operation: operation, reason: "\(String(cString: strerror(code))) (errno \(code))")
    }
}
