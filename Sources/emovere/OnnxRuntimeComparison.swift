import Foundation

/// Times ONNX Runtime (through python3 and the `onnxruntime` package, when installed) on the reference
/// model in the same benchmark run, so Emovere's figures can be read as ratios measured side by side.
struct OnnxRuntimeComparison {
    let modelPath: String
    let inputSize: Int
    let batches: [Int]
    let seconds: Double
    /// ONNX Runtime's intra-op threads: the same number of workers as Emovere's.
    let threads: Int

    /// Runs the comparison and prints its lines; returns ONNX Runtime's images/s for each of `batches`, or nil when
    /// it did not run.
    func run() -> [Double]? {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            print("ONNX Runtime comparison skipped: no model at \(modelPath) (pass --onnx-model)")
            return nil
        }
        let script = """
            import sys, time
            try:
                import numpy as np, onnxruntime as ort
            except ImportError as e:
                print("ONNX Runtime comparison skipped: python3 cannot import onnxruntime/numpy (%s)" % e); sys.exit(0)
            so = ort.SessionOptions(); so.intra_op_num_threads = int(sys.argv[4])
            s = ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
            name = s.get_inputs()[0].name
            size = int(sys.argv[2]); seconds = float(sys.argv[3])
            for batch in map(int, sys.argv[5:]):
                x = np.random.uniform(-1, 1, (batch, size, size, 1)).astype(np.float32)
                s.run(None, {name: x})
                n = 0; t = time.perf_counter(); c = time.process_time()
                while time.perf_counter() - t < seconds:
                    s.run(None, {name: x}); n += batch
                wall = time.perf_counter() - t; cpu = time.process_time() - c
                print("%-40s %10.0f images/s  (%.0f per CPU-second)" % ("onnxruntime %s inference, batch %d" % (ort.__version__, batch), n / wall, n / max(cpu, 1e-9)))
            """
        let rates = PythonComparison.run(script, arguments: [modelPath, String(inputSize), String(seconds), String(threads)]
                                             + batches.map(String.init), comparison: "ONNX Runtime")
            .compactMap(PythonComparison.imagesPerSecond(in:))
        return rates.count == batches.count ? rates : nil
    }
}
