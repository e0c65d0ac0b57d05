import ArgumentParser
import EmovereCore
import Foundation

/// Where `--annotate` writes: one file for a single photo, or a folder for several photos or folders.
enum AnnotationTarget: Equatable {
    case file(String)
    case folder(String)

    /// The target for `--annotate output` given the command's inputs, checked (a file name for one photo, a folder
    /// otherwise, never an input) without touching the file system; `createFolder()` makes it ready.
    init(output: String, inputs: [String]) throws {
        try OutputPaths.checkDistinct([("--annotate", output)], foldersAllowed: true)
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        let singlePhoto = inputs.count == 1 && (PhotoDownloader.isURL(inputs[0]) || inputs[0] == PhotoFiles.standardInput
            || manager.fileExists(atPath: inputs[0], isDirectory: &isDirectory) && !isDirectory.boolValue)
        if singlePhoto {
            guard AnnotatedPhoto.format(ofOutput: output) != nil else {
                throw ValidationError("--annotate \(output): expected a .png, .jpg or .jpeg file name for one photo")
            }
            if manager.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue {
                throw ValidationError("--annotate \(output) is a folder; for one photo, name the output file")
            }
            try OutputPaths.checkDistinct([("--annotate", output)], inputs: [inputs[0]], inputName: "the photo",
                                          foldersAllowed: true)
            self = .file(output)
        } else {
            let exists = manager.fileExists(atPath: output, isDirectory: &isDirectory)
            if exists, !isDirectory.boolValue {
                throw ValidationError("--annotate \(output) is a file; with several photos or a folder, "
                                      + "--annotate names the output folder")
            }
            if !exists, AnnotatedPhoto.format(ofOutput: output) != nil {
                var inputIsFolder: ObjCBool = false
                let inputs = inputs.count != 1 ? "there are \(inputs.count) inputs"
                    : manager.fileExists(atPath: inputs[0], isDirectory: &inputIsFolder) && inputIsFolder.boolValue
                    ? "the input \(inputs[0]) is a folder"
                    : "the input \(RemoteAddress.hidingPassword(in: inputs[0])) is not an existing photo"
                throw ValidationError("--annotate \(output) names a photo file, but \(inputs); "
                                      + "with several photos or a folder, --annotate names the output folder")
            }
            self = .folder(output)
        }
    }

    /// Creates the output folder, or the output file's folder, when missing.
    func createFolder() throws {
        let folder = switch self {
        case let .file(path): (path as NSString).deletingLastPathComponent
        case let .folder(path): path
        }
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    }

    /// The output path for each of `files`, in order. In a folder each photo becomes `<name>.annotated.png` (or
    /// `.jpg` for JPEG inputs; a URL's photo is named by the last part of its path, or its host, standard input's
    /// `stdin`); photos with the same name get `-2`, `-3`, ... before `.annotated`. `reserved` holds
    /// the copies an earlier run of a resumed results file wrote, by their photo (`OutputPaths.normalized` from the
    /// current folder): each of those photos keeps its copy, and no other photo gets its name. Names are told apart
    /// regardless of case, so no copy replaces another on a case-insensitive disk (macOS's, exFAT, SMB shares).
    func outputPaths(for files: [String], reserved: [String: String] = [:]) -> [String] {
        switch self {
        case let .file(path):
            return files.map { _ in path }
        case let .folder(folder):
            var used = Set(reserved.values.map { ($0 as NSString).lastPathComponent.lowercased() })
            let directory = FileManager.default.currentDirectoryPath
            return files.map { file in
                if !reserved.isEmpty, let recorded = reserved[OutputPaths.normalized(file, in: directory)] {
                    return recorded
                }
                let (name, isHost) = PhotoFiles.outputName(of: file)
                let stem = isHost ? name : (name as NSString).deletingPathExtension
                let suffix = AnnotatedPhoto.format(ofOutput: name) == .jpeg ? "jpg" : "png"
                var candidate = "\(stem).annotated.\(suffix)"
                var counter = 2
                while !used.insert(candidate.lowercased()).inserted {
                    candidate = "\(stem)-\(counter).annotated.\(suffix)"
                    counter += 1
                }
                return (folder as NSString).appendingPathComponent(candidate)
            }
        }
    }
}
