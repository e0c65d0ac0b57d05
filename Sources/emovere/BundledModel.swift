import ArgumentParser
import Foundation

/// Finds bundled files (the default model, the YuNet detector): `$EMOVERE_MODEL` for the model, `./models/`, or
/// `models/` beside the package the executable was built in, or `../share/emovere/` beside an installed executable.
enum BundledModel {
    static let fileName = "default.safetensors"
    /// The environment variable that names the model file instead.
    static let environmentVariable = "EMOVERE_MODEL"

    /// `remedy` ends the error when nothing is found: what the user can pass instead.
    static func locate(fileName: String = fileName, environment: String? = environmentVariable,
                       folder: String = "models", remedy: String = "pass --model or set \(environmentVariable)")
        throws -> String {
        if let environment, let path = ProcessInfo.processInfo.environment[environment] { return path }
        // The running file itself (argv[0] may be a bare name found on PATH, relative to no folder).
        let executable = (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])).resolvingSymlinksInPath()
        let candidates = [
            FileManager.default.currentDirectoryPath + "/\(folder)/" + fileName,
            executable.deletingLastPathComponent().appendingPathComponent("../../../\(folder)/" + fileName).standardized.path,
            executable.deletingLastPathComponent().appendingPathComponent("../share/emovere/" + fileName).standardized.path,
        ]
        guard let found = candidates.first(where: FileManager.default.fileExists(atPath:)) else {
            throw CommandFailure("no bundled \(fileName) found (looked in \(candidates.joined(separator: ", "))); \(remedy)")
        }
        return found
    }
}
