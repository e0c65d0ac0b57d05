import Foundation

/// Times ONNX Runtime (through python3 and the `onnxruntime` package, when installed) on the reference
/// model in the same benchmark run, so Emovere's figures can be read as ratios measured side by side.
struct OnnxRuntimeComparison {
    /// The ONNX model: a file, or the bytes of one (given to python3 on its standard input, so no temporary file is
    /// left behind when `bench` is interrupted).
    enum Source {
        case file(String)
        case bytes([UInt8])
    }

    let model: Source
    /// The benchmarked network's architecture name (a model whose card names another is measured with a warning).
    let architecture: String
    let inputSize: Int
    let batch: Int
    let seconds: Double
    /// ONNX Runtime's intra-op threads: the same number of workers as Emovere's.
    let threads: Int

    /// Runs the comparison at `batch` and prints its lines; returns ONNX Runtime's images/s, or why there are none
    /// (the line saying why is printed: no onnxruntime, a file it cannot load, another input shape, a failure).
    func run() -> PythonComparison.Outcome {
        let script = """
            import sys, json, time
            try:
                import numpy as np, onnxruntime as ort
            except ImportError as e:
                print("ONNX Runtime comparison skipped: python3 cannot import onnxruntime/numpy (%s)" % e); sys.exit(0)
            path, size, seconds, threads, architecture = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
            so = ort.SessionOptions(); so.intra_op_num_threads = threads
            source = sys.stdin.buffer.read() if path == "-" else path
            if path == "-": path = "the exported network"
            try:
                s = ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])
            except Exception as e:
                print("ONNX Runtime comparison skipped: %s: ONNX Runtime cannot load it (%s)" % (path, str(e).splitlines()[0] if str(e) else type(e).__name__)); sys.exit(0)
            given = s.get_inputs()[0]
            if len(given.shape) != 4 or list(given.shape[1:]) != [size, size, 1]:
                print("ONNX Runtime comparison skipped: %s takes input %s, the benchmark feeds [N, %d, %d, 1] (--input-size)" % (path, given.shape, size, size)); sys.exit(0)
            try:
                card = json.loads(s.get_modelmeta().custom_metadata_map.get("model_card", "{}"))
                name = card.get("architecture", {}).get("name")
            except (ValueError, AttributeError):
                name = None
            if name is None:
                print("warning: %s has no model card: the benchmark cannot tell whether it is the %s it measures (its weights differ: the ratios compare like for like only for the same network)" % (path, architecture))
            elif name != architecture:
                print("warning: %s is a %s, the benchmark measures %s: the ratios compare different networks" % (path, name, architecture))
            batch = int(sys.argv[6])
            x = np.random.uniform(-1, 1, (batch, size, size, 1)).astype(np.float32)
            t = time.perf_counter()  # warmed up as long as Emovere's side (Benchmark.warmUpSeconds)
            while time.perf_counter() - t < min(1.0, seconds / 4): s.run(None, {given.name: x})
            n = 0; t = time.perf_counter(); c = time.process_time()
            while n == 0 or time.perf_counter() - t < seconds:
                s.run(None, {given.name: x}); n += batch
            wall = time.perf_counter() - t; cpu = time.process_time() - c
            print("%-40s %10.0f images/s  (%.0f per CPU-second)" % ("onnxruntime %s inference, batch %d" % (ort.__version__, batch), n / wall, n / max(cpu, 1e-9)))
            import resource
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
            print("peak resident memory of the onnxruntime process (python, numpy and onnxruntime included): %.0f MB" % peak)
            """
        let (argument, input): (String, [UInt8]?) = switch model {
        case let .file(path): (path, nil)
        case let .bytes(bytes): ("-", bytes)
        }
        return PythonComparison.Outcome(lines: PythonComparison.run(
            script, arguments: [argument, String(inputSize), String(seconds), String(threads), architecture, String(batch)],
            comparison: "ONNX Runtime", input: input, timeLimit: 300 + 3 * seconds))
    }
}
