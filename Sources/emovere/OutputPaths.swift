import ArgumentParser
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

    /// Throws when one of the given `outputs` (option, path; nil: not given) is one of `inputs` (described to the
    /// user as `inputName`) or names the same file as an earlier output.
    static func checkDistinct(_ outputs: [(option: String, path: String?)], inputs: [String] = [],
                              inputName: String = "one of the inputs") throws {
        let given = outputs.compactMap { output in output.path.map { (option: output.option, path: $0) } }
        let inputPaths = Set(inputs.map(canonical))
        for (index, output) in given.enumerated() {
            guard !output.path.isEmpty else { throw ValidationError("\(output.option) needs a file path, received ''") }
            let target = canonical(output.path)
            if inputPaths.contains(target) {
                throw ValidationError("\(output.option) \(output.path) is \(inputName): choose another output path")
            }
            if let other = given[..<index].first(where: { canonical($0.path) == target }) {
                throw ValidationError("\(output.option) and \(other.option) both name \(output.path): give each output its own path")
            }
        }
    }

    /// Throws unless `path` names a model file (`.safetensors`; its card is written beside it as `.card.json`).
    static func checkModelFile(_ path: String, option: String) throws {
        guard (path as NSString).pathExtension.lowercased() == "safetensors" else {
            throw ValidationError("\(option) \(path): expected a model file name ending in .safetensors")
        }
    }

    /// Throws unless `path` names a video file `VideoWriter` can write (or has no extension: MP4) and is not a
    /// folder.
    static func checkVideoFile(_ path: String, option: String) throws {
        let fileExtension = (path as NSString).pathExtension.lowercased()
        guard fileExtension.isEmpty || VideoWriter.containerExtensions.contains(fileExtension) else {
            let names = VideoWriter.containerExtensions.sorted().map { "." + $0 }.joined(separator: ", ")
            throw ValidationError("\(option) \(path): expected a video file name ending in \(names)")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ValidationError("\(option) \(path) is a folder: name the video file to write")
        }
    }
}
