import EmovereTensor
import Foundation
import Testing

/// Runs an exported Emovere model in ONNX Runtime through `python3` (packages `onnxruntime` and `numpy`, which
/// scripts/test.sh installs), exchanging tensors as raw little-endian float32 files (`PythonOracle`).
enum OnnxRuntimeRunner {
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
        let (printed, written) = try PythonOracle.run(
            script: script, files: ["model.onnx": Data(model), "input.f32": PythonOracle.data(input.values)],
            arguments: ["{folder}/model.onnx", "{folder}/input.f32", "{folder}/output.f32"] + input.shape.map(String.init),
            outputs: ["output.f32"])
        let shape = printed.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        let values = PythonOracle.floats(try #require(written["output.f32"]))
        guard values.count == shape.reduce(1, *) else {
            throw PythonOracle.Failure(description: "ONNX Runtime printed shape \(shape) but wrote \(values.count) values")
        }
        return (shape, values)
    }
}
