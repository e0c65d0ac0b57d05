import ArgumentParser
import EmovereCore
import Foundation

/// Expands folders into the photo files they hold (sorted), keeping files as given. Only regular files are read:
/// a named pipe, device or socket would block the reader or never end.
enum PhotoFiles {
    static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    static func expand(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CommandFailure("no such file or folder: \(path)")
            }
            if isDirectory.boolValue {
                let children = try FileManager.default.subpathsOfDirectory(atPath: path)
                    .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
                for child in children.map({ (path as NSString).appendingPathComponent($0) }) {
                    if isRegularFile(child) {
                        files.append(child)
                    } else if child.contains("\u{FFFD}") {
                        // The listing decoded a name that is not UTF-8 with replacement characters: no such path.
                        FileHandle.standardError.write(Data("warning: skipping \(child): its name is not valid UTF-8, which emovere cannot open; rename the file\n".utf8))
                    } else {
                        FileHandle.standardError.write(Data("warning: skipping \(child): not a regular file\n".utf8))
                    }
                }
            } else {
                guard isRegularFile(path) else {
                    throw CommandFailure("\(path) is not a regular file (a named pipe, device or socket); expected a JPEG or PNG photo")
                }
                files.append(path)
            }
        }
        return files
    }

    /// The paths listed in `file` (`-`: standard input), one per line; blank lines are skipped.
    static func listed(in file: String) throws -> [String] {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            do {
                data = Data(try FileContents.bytes(atPath: file))
            } catch {
                throw CommandFailure("--files-from \(file): \(error.reason)")
            }
        }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    /// Whether `path` (after following symbolic links) is a regular file.
    static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    /// `files` without those inside `folder` (so annotated copies written there are not analysed again).
    static func excluding(_ files: [String], under folder: String) -> [String] {
        let prefix = OutputPaths.canonical(folder) + "/"
        return files.filter { !OutputPaths.canonical($0).hasPrefix(prefix) }
    }
}
