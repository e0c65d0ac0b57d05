import ArgumentParser
import Emovere
import EmovereCore
import EmovereFiles
import Foundation

/// Finds bundled files (the default model, the YuNet detector): `$EMOVERE_MODEL` for the model, `./models/`, or
/// `models/` beside the package the executable was built in, or `../share/emovere/` beside an installed executable.
enum BundledModel {
    static let fileName = "default.safetensors"
    /// The environment variable that names the model file instead.
    static let environmentVariable = "EMOVERE_MODEL"

    /// The bundled YuNet detector's path and bytes, checked against the digest it was bundled with (`remedy` as in
    /// ``locate(fileName:environment:folder:remedy:)``).
    static func yunet(remedy: String) throws -> (path: String, bytes: [UInt8]) {
        let path = try locate(fileName: YuNetDetector.bundledFileName, environment: nil, remedy: remedy)
        let bytes: [UInt8]
        do {
            bytes = try FileContents.bytes(atPath: path)
        } catch {
            throw CommandFailure("\(path): \(error.reason)")
        }
        let digest = SHA256.hexDigest(of: bytes)
        guard digest == YuNetDetector.bundledDigest else {
            throw CommandFailure("\(path): SHA-256 \(digest), expected the bundled detector's \(YuNetDetector.bundledDigest) (the file is damaged or was replaced); restore it from the package, or name a detector of your own with --yunet-model")
        }
        return (path, bytes)
    }

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
