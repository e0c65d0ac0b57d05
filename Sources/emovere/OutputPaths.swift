import ArgumentParser
import Emovere
import EmovereCore
import EmovereVideo
import Foundation

/// The files a command writes, checked in `validate()` before any work is done: an output must not be one of the
/// command's inputs, two outputs must not name one file, and a file's name must say what it will hold, so no output
/// overwrites an input or another output and no run fails at its end on a name it could have refused at its start.
enum OutputPaths {
    /// `path` made absolute, standardized and with symbolic links resolved, for comparing paths.
    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// `path` made absolute (from `directory`) with `.`, `..` and repeated slashes taken out, without touching the
    /// file system: links are not resolved, so two links to one photo stay two photos. A key of a path however it
    /// is spelt (`photos/a.jpg`, `./photos//a.jpg`), cheap enough for every line of a large results file. A URL is
    /// kept as spelt, its password hidden, as result lines record it.
    static func normalized(_ path: String, in directory: String) -> String {
        if RemoteAddress.scheme(of: path) != nil { return RemoteAddress.hidingPassword(in: path) }
        var parts: [Substring] = []
        for component in ((path.hasPrefix("/") ? "" : directory + "/") + path).split(separator: "/") {
            switch component {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Throws when one of the given `outputs` (option, path; nil: not given) is empty, is one of `inputs` (described
    /// to the user as `inputName`), names the same file as an earlier output, lies below a file instead of a folder,
    /// is a device, pipe or file descriptor (`AtomicFile.destination(of:)`), or, unless `foldersAllowed`, is an existing
    /// folder. Missing folders above an output are fine: the writers
    /// create them.
    static func checkDistinct(_ outputs: [(option: String, path: String?)], inputs: [String] = [],
                              inputName: String = "one of the inputs", foldersAllowed: Bool = false) throws {
        let given = outputs.compactMap { output in output.path.map { (option: output.option, path: $0) } }
        let inputPaths = Set(inputs.map(canonical))
        for (index, output) in given.enumerated() {
            guard !output.path.isEmpty else { throw ValidationError("\(output.option) needs a file path, received ''") }
            if !foldersAllowed { try checkNotFolder(output.path, option: output.option) }
            try checkFoldersAbove(output.path, option: output.option)
            do {
                _ = try AtomicFile.destination(of: output.path)  // a device, pipe or descriptor is refused now, not at the end
            } catch {
                throw ValidationError("\(output.option) \(output.path): \(error.reason)")
            }
            let target = canonical(output.path)
            if inputPaths.contains(target) {
                throw ValidationError("\(output.option) \(output.path) is \(inputName): choose another output path")
            }
            if let other = given[..<index].first(where: { canonical($0.path) == target }) {
                throw ValidationError("\(output.option) and \(other.option) both name \(output.path): give each output its own path")
            }
        }
    }

    /// Throws when `path` is an existing folder or ends in `/`: an option that writes a file.
    static func checkNotFolder(_ path: String, option: String) throws {
        var isDirectory: ObjCBool = false
        if path.hasSuffix("/") || FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            && isDirectory.boolValue {
            throw ValidationError("\(option) \(path) is a folder: name the file to write")
        }
    }

    /// Throws when the nearest existing path above `path` is not a folder (the output could never be created).
    static func checkFoldersAbove(_ path: String, option: String) throws {
        var above = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        while !FileManager.default.fileExists(atPath: above.path, isDirectory: &isDirectory) && above.path != "/" {
            above = above.deletingLastPathComponent()
        }
        guard isDirectory.boolValue else {
            throw ValidationError("\(option) \(path): \(above.path) is a file, not a folder")
        }
    }

    /// Throws unless `path` names a file (not an existing folder, nor a path ending in `/`) whose extension, in any
    /// case, is one of `extensions` (`kind` describes it to the user); `allowsNoExtension` also accepts none.
    static func checkFileName(_ path: String, option: String, kind: String, extensions: [String],
                              allowsNoExtension: Bool = false) throws {
        try checkNotFolder(path, option: option)
        let fileExtension = (path as NSString).pathExtension.lowercased()
        guard extensions.contains(fileExtension) || allowsNoExtension && fileExtension.isEmpty else {
            let names = extensions.map { "." + $0 }
            let listed = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " or " + names.last!
            throw ValidationError("\(option) \(path): expected \(kind) name ending in \(listed)")
        }
    }

    /// Throws unless `path` names a model file (`.safetensors`, as `ModelFile.cardPath` expects: its card is
    /// written beside it as `.card.json`, which must not be a folder either: the model would be written, then its
    /// card fail).
    static func checkModelFile(_ path: String, option: String) throws {
        try checkFileName(path, option: option, kind: "a model file", extensions: ["safetensors"])
        guard path.hasSuffix(".safetensors") else {
            throw ValidationError("\(option) \(path): expected a model file name ending in .safetensors (lower case)")
        }
        let card = ModelFile.cardPath(for: path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: card, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ValidationError("\(option) \(path): its card \(card) would be written beside it, but that is a folder; remove it or choose another name")
        }
    }

    /// Removes what runs killed mid-write left of the files `outputs` (hidden temporary files whose process is gone,
    /// `AtomicFile.removeAbandonedTemporaryFiles`, a half-written video among them), each named on standard error. Only
    /// this run's outputs: a folder other machines write to as well (shards on a network disk) holds their files.
    static func removeAbandonedTemporaryFiles(of outputs: [String]) throws {
        var targets: [String: Set<String>] = [:]
        var folders: [String] = []  // in first-seen order, for the notes
        for output in outputs {
            // A writer names its temporary file after where a symbolic link at `output` leads.
            let file = try AtomicFile.destination(of: output)
            let folder = (file as NSString).deletingLastPathComponent
            let resolved = folder.isEmpty ? "." : folder
            if targets[resolved] == nil { folders.append(resolved) }
            targets[resolved, default: []].insert((file as NSString).lastPathComponent)
        }
        for folder in folders {
            for name in try AtomicFile.removeAbandonedTemporaryFiles(in: folder, targets: targets[folder]) {
                StandardError.write("note: removed \((folder as NSString).appendingPathComponent(name)), a file left half written by an interrupted run\n")
            }
        }
    }

    /// Throws unless `path` names a video file `VideoWriter` can write (no extension: MP4).
    static func checkVideoFile(_ path: String, option: String) throws {
        try checkFileName(path, option: option, kind: "a video file", extensions: VideoWriter.containerExtensions,
                          allowsNoExtension: true)
    }
}
