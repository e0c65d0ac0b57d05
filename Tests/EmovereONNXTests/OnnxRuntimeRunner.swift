import EmovereTensor
import Foundation

/// Runs an ONNX model in ONNX Runtime through `python3` (packages `onnxruntime` and `numpy`, which
/// scripts/test.sh installs), exchanging tensors as raw little-endian float32 files in a temporary folder.
struct OnnxRuntimeRunner {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The exit status the script uses when it cannot import its packages.
    private static let missingPackagesStatus: Int32 = 3

    private static let script = """
        import sys
        try:
            import numpy as np, onnxruntime as ort
        except ImportError as error:
            print("cannot import onnxruntime/numpy: %s" % error, file=sys.stderr)
            sys.exit(3)
        model, input_path, output_path = sys.argv[1:4]
        shape = [int(size) for size in sys.argv[4:]]
        x = np.fromfile(input_path, dtype="<f4").reshape(shape)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        (y,) = session.run(["probabilities"], {"input": x})
        y.astype("<f4").tofile(output_path)
        print(" ".join(str(size) for size in y.shape))
        """

    /// The outputs `probabilities` of the serialized ONNX `model` for `input` `[N, H, W, C]`, with their shape.
    static func probabilities(model: [UInt8], input: Tensor) throws -> (shape: [Int], values: [Float]) {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("emovere-onnx-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }  // cleanup only; results are already read
        let modelURL = folder.appendingPathComponent("model.onnx")
        let inputURL = folder.appendingPathComponent("input.f32")
        let outputURL = folder.appendingPathComponent("output.f32")
        try Data(model).write(to: modelURL)
        try input.values.withUnsafeBytes { Data($0) }.write(to: inputURL)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, modelURL.path, inputURL.path, outputURL.path]
            + input.shape.map(String.init)
        let standardOutput = Pipe()
        let errorURL = folder.appendingPathComponent("stderr.txt")
        guard FileManager.default.createFile(atPath: errorURL.path, contents: nil) else {
            throw Failure(description: "cannot create \(errorURL.path)")
        }
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
            throw Failure(description: "ONNX Runtime is needed for this test: python3 with the onnxruntime and numpy "
                + "packages (run scripts/test.sh, which installs them). \(errors)")
        default:
            throw Failure(description: "python3 onnxruntime run failed (status \(process.terminationStatus)): \(errors)")
        }
        let shape = printed.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        let bytes = try Data(contentsOf: outputURL)
        let values = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        guard values.count == shape.reduce(1, *) else {
            throw Failure(description: "ONNX Runtime printed shape \(shape) but wrote \(values.count) values")
        }
        return (shape, values)
    }
}
