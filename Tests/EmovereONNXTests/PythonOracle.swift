import Foundation

/// Runs a Python script (ONNX Runtime or OpenCV as the reference twin) in a temporary folder: writes the named
/// files, runs `python3 -c script args...`, and returns what it printed and the folder's files as bytes.
/// scripts/test.sh installs the packages (onnxruntime, numpy, opencv-python-headless).
enum PythonOracle {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The exit status scripts use when they cannot import their packages.
    static let missingPackagesStatus: Int32 = 3

    /// Writes `files` into a fresh folder, runs `script` with `arguments` (`{folder}` replaced by the folder's
    /// path) and returns the standard output and the files named `outputs` that the script wrote; the folder is
    /// removed afterwards.
    static func run(script: String, files: [String: Data], arguments: [String], outputs: [String] = []) throws
        -> (output: String, files: [String: Data]) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-oracle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }  // cleanup only; results are already read
        for (name, data) in files { try data.write(to: folder.appendingPathComponent(name)) }
        let errorURL = folder.appendingPathComponent("stderr.txt")
        guard FileManager.default.createFile(atPath: errorURL.path, contents: nil) else {
            throw Failure(description: "cannot create \(errorURL.path)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments.map { $0.replacingOccurrences(of: "{folder}", with: folder.path) }
        let standardOutput = Pipe()
        process.standardOutput = standardOutput
        process.standardError = try FileHandle(forWritingTo: errorURL)  // a file: a full pipe cannot stall python
        try process.run()
        let printed = String(decoding: standardOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let errors = (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""  // only decorates the failure message
        switch process.terminationStatus {
        case 0:
            break
        case missingPackagesStatus, 127:
            throw Failure(description: "this test needs python3 with onnxruntime, numpy and opencv-python-headless "
                + "(run scripts/test.sh, which installs them). \(errors)")
        default:
            throw Failure(description: "python3 failed (status \(process.terminationStatus)): \(errors)")
        }
        var written: [String: Data] = [:]
        for name in outputs { written[name] = try Data(contentsOf: folder.appendingPathComponent(name)) }
        return (printed, written)
    }

    /// Little-endian float32 values of `data`.
    static func floats(_ data: Data) -> [Float] {
        data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// `values` as little-endian float32 bytes.
    static func data(_ values: [Float]) -> Data {
        values.withUnsafeBytes { Data($0) }
    }
}
