import ArgumentParser
import EmovereCore
import EmovereVision
import Foundation

/// Expands folders into the photo files they hold (sorted), keeping files as given. Only regular files are read:
/// a named pipe, device or socket would block the reader or never end.
enum PhotoFiles {
    static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    /// The input that names the photo on standard input (`curl ... | emovere analyze -`), on the command line only.
    static let standardInput = "-"

    /// `line`, a path from a list or a worker's request, as a path: a `-` there is a file of that name (`./-`), not
    /// standard input.
    static func listedPath(_ line: String) -> String { line == standardInput ? "./-" : line }

    /// How messages name the photo `input`: `standard input` for `-`, a URL with its password hidden, a path as given.
    static func shownName(of input: String) -> String {
        input == standardInput ? "standard input" : RemoteAddress.hidingPassword(in: input)
    }

    /// Throws when standard input is a terminal: `-` would wait for a photo typed at it.
    static func checkStandardInputIsPiped() throws {
        if isatty(STDIN_FILENO) == 1 {
            throw ValidationError("- reads a photo from standard input, which is a terminal here: pipe or redirect one (emovere analyze - < photo.jpg)")
        }
    }

    /// The photos `paths` name (from the command line) and `listed` name (from a list file), folders expanded in
    /// sorted order and files, `http(s)` URLs and `-` (standard input) kept as given. A named path that does not
    /// exist, or is not a regular file, is an error before any work; a listed one is kept, so its analysis reports
    /// it and the others go on. A folder's
    /// files inside `annotations` named as annotated copies (`*.annotated.png`, `*.annotated.jpg`) are skipped: a
    /// second run must not analyse the first one's copies.
    static func expand(_ paths: [String], listed: [String] = [], skippingCopiesIn annotations: String? = nil) throws
        -> [String] {
        let copies = annotations.map { OutputPaths.canonical($0) + "/" }
        var files: [String] = []
        for (path, isListed) in paths.map({ ($0, false) }) + listed.map({ ($0, true) }) {
            if path == standardInput {  // a list's `-` is `./-` (`listed(in:)`)
                files.append(path)
                continue
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                if isListed || PhotoDownloader.isURL(path) {
                    files.append(path)
                    continue
                }
                if let problem = unreadableScheme(of: path) { throw CommandFailure(problem) }
                throw CommandFailure("no such file or folder: \(path)")
            }
            if isDirectory.boolValue {
                for child in try photoSubpaths(of: path).map({ (path as NSString).appendingPathComponent($0) }) {
                    if let copies, isAnnotatedCopy(child), OutputPaths.canonical(child).hasPrefix(copies) { continue }
                    if isRegularFile(child) || isBrokenLink(child) {
                        files.append(child)  // a broken link is kept: its analysis reports it, and the run fails
                    } else {
                        StandardError.write("warning: skipping \(child): not a regular file\n")
                    }
                }
            } else {
                guard isListed || isRegularFile(path) else {
                    throw CommandFailure("\(path) is not a regular file (a named pipe, device or socket); expected a JPEG or PNG photo")
                }
                files.append(path)
            }
        }
        return files
    }

    /// The paths, relative to `folder` and sorted, of the photo files (by extension) in it and its subfolders.
    /// Links to folders are followed, as `find -L` does, each folder entered once: a link back to a folder above, or a
    /// second link to one already listed, adds nothing.
    static func photoSubpaths(of folder: String) throws -> [String] {
        var found: [String] = []
        var entered: Set<String> = []
        func walk(_ relative: String) throws {
            let absolute = relative.isEmpty ? folder : (folder as NSString).appendingPathComponent(relative)
            guard entered.insert(OutputPaths.canonical(absolute)).inserted else { return }
            let names: [String]
            do {
                // Sorted: when two links reach one folder, the same one names its photos on every run and machine.
                names = try FileManager.default.contentsOfDirectory(atPath: absolute).sorted()
            } catch {
                throw CommandFailure("cannot list the folder \(absolute): \(error.localizedDescription)")
            }
            for name in names {
                let child = relative.isEmpty ? name : (relative as NSString).appendingPathComponent(name)
                var isDirectory: ObjCBool = false  // through links: a link to a folder is a folder
                if FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(child),
                                                  isDirectory: &isDirectory), isDirectory.boolValue {
                    try walk(child)
                } else if name.contains("\u{FFFD}"), !FileManager.default.fileExists(
                              atPath: (folder as NSString).appendingPathComponent(child)),
                          extensions.contains((name as NSString).pathExtension.lowercased())
                            || (name as NSString).pathExtension.isEmpty {
                    // The listing decoded a name that is not UTF-8 with replacement characters: no such path, so a
                    // photo's or a folder's (which cannot be told apart) is named.
                    StandardError.write("warning: skipping \((folder as NSString).appendingPathComponent(child)): its name is not valid UTF-8, which emovere cannot open; rename it\n")
                } else if extensions.contains((name as NSString).pathExtension.lowercased()) {
                    found.append(child)
                }
            }
        }
        try walk("")
        return found.sorted()
    }

    /// Whether `path`'s name is one `AnnotationTarget` gives an annotated copy (`<name>.annotated.png` or `.jpg`).
    static func isAnnotatedCopy(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        return name.hasSuffix(".annotated.png") || name.hasSuffix(".annotated.jpg")
    }

    /// The paths listed in `file` (`-`: standard input; a pipe such as `<(find ...)` is read to its end), one per
    /// line; blank lines and a leading byte-order mark are skipped.
    static func listed(in file: String) throws -> [String] {
        let data: Data
        var status = stat()
        if file == "-" || (stat(file, &status) == 0 && (status.st_mode & S_IFMT) == S_IFIFO) {
            // A stream (standard input, a pipe) is read to its end through one throwing reader.
            let descriptor = file == "-" ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw CommandFailure("--files-from \(file): cannot open it: \(String(cString: strerror(errno)))")
            }
            do {
                data = try FileHandle(fileDescriptor: descriptor, closeOnDealloc: true).readToEnd() ?? Data()
            } catch {
                throw CommandFailure("--files-from \(file): cannot read it: \(error.localizedDescription)")
            }
        } else {
            do {
                data = Data(try FileContents.bytes(atPath: file, maximumBytes: FileContents.largestDocumentBytes))
            } catch {
                throw CommandFailure("--files-from \(file): \(error.reason)")
            }
        }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }  // a byte-order mark some editors write
        return text.split(whereSeparator: \.isNewline).map { listedPath(String($0)) }
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    /// The content of the photo `input` names: downloaded by `downloader` for an `http(s)` URL, standard input read to
    /// its end for `-`, else read from the file. Another scheme (`ftp://`, `file://`) is refused, its password hidden.
    static func contents(of input: String, downloader: PhotoDownloader) throws -> [UInt8] {
        if PhotoDownloader.isURL(input) { return try downloader.bytes(from: input) }
        if input == standardInput { return try standardInputContents() }
        if let problem = unreadableScheme(of: input) { throw CommandFailure(problem) }
        return try ImageFile.bytes(atPath: input)
    }

    /// The bytes on standard input, at most `PhotoDownloader.maximumBytes` (one photo).
    private static func standardInputContents() throws -> [UInt8] {
        guard let bytes = try FileHandle.standardInput.readToEnd(limit: PhotoDownloader.maximumBytes,
                                                                 name: "standard input") else {
            throw CommandFailure("standard input holds more than \(PhotoDownloader.maximumBytes) bytes; expected one JPEG or PNG photo")
        }
        return bytes
    }

    /// What names the outputs of the photo `input` (`AnnotationTarget`, `explain`): a file's name, a URL's last part
    /// or host (`RemoteAddress.lastPart`), `stdin` for standard input; `isHost` when it has no extension to drop.
    static func outputName(of input: String) -> (name: String, isHost: Bool) {
        input == standardInput ? ("stdin", true) : RemoteAddress.lastPart(of: input, fallback: "photo")
    }

    /// Why `input`, a URL whose scheme photos are not read with, names no photo; nil for paths and `http(s)` URLs.
    static func unreadableScheme(of input: String) -> String? {
        guard let scheme = RemoteAddress.scheme(of: input), !PhotoDownloader.schemes.contains(scheme) else { return nil }
        return "\(RemoteAddress.hidingPassword(in: input)): expected a photo's path or an "
            + "\(PhotoDownloader.schemes.joined(separator: " or ")) URL, found the scheme '\(scheme)'"
    }

    /// Whether `path` is a symbolic link to nothing.
    static func isBrokenLink(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFLNK && stat(path, &status) != 0
    }

    /// Whether `path` (after following symbolic links) is a regular file.
    static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }
}
