import ArgumentParser
import Emovere
import EmovereCore
import EmovereData
import EmovereNN
import EmovereONNX
import EmovereReport
import EmovereTensor
import EmovereVision
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training and inference speed (images/s, and the share of the CPU's measured multiply-add peak) on synthetic data, side by side with ONNX Runtime and Keras (and the detectors with OpenCV's); build with -c release.")

    @Option(help: "Architecture to measure.")
    var model = Self.standard.model

    @Option(help: "Input size in pixels, 8-512.")
    var inputSize = Self.standard.inputSize

    @Option(help: "The convolutions' arithmetic, inference and training: float32, or bfloat16 (bfloat16 multiplications, single-precision sums; in training the forward products, input gradients and weight gradients; needs AVX512_BF16, else float32 runs).")
    var precision = Self.standard.precision

    @Option(help: "Seconds to run each measurement.")
    var seconds = 5.0

    @Option(help: "Training batch size (0 skips the training measurement).")
    var trainingBatch = Self.standard.trainingBatch

    @Option(parsing: .upToNextOption, help: "Inference batch sizes.")
    var inferenceBatches: [Int] = Self.standard.inferenceBatches

    /// The model measurement's defaults (options `--detector` and `--training-only` refuse when changed).
    static let standard = (model: Architecture.Family.miniXception, inputSize: 48, precision: Precision.float32,
                           trainingBatch: 32, inferenceBatches: [1, 256])

    @Flag(help: "Measure training only (for profiling).")
    var trainingOnly = false

    @Flag(help: "Also print the time of each layer in an inference pass at the first inference batch size.")
    var layers = false

    @Flag(help: "Skip the ONNX Runtime comparison.")
    var noOnnx = false

    @Option(help: "ONNX model for the ONNX Runtime comparison (default: the benchmarked network with the same weights, exported).")
    var onnxModel: String?

    @Flag(help: "Measure the face detectors instead (YuNet and Haar at 640x480 and 1280x720, against OpenCV).")
    var detector = false

    @Option(help: "Rounds to measure, each figure beside its peer's (Emovere first in odd rounds, the peer first in even ones); more than one also prints medians and median ratios.")
    var rounds = 1

    @Flag(help: "Also time Keras fit on Arriaga's mini-Xception at the training batch size, without augmentation (mini-xception only; needs python3 with tensorflow).")
    var keras = false

    func validate() throws {
        try CommandSupport.validateInputSize(inputSize)
        if !(seconds > 0 && seconds.isFinite) {
            throw ValidationError("--seconds must be a positive number of seconds, received \(seconds)")
        }
        if trainingBatch != 0 && trainingBatch < 2 {
            throw ValidationError("--training-batch must be at least 2 (batch norm needs two faces), or 0 to skip training, received \(trainingBatch)")
        }
        if trainingOnly && trainingBatch == 0 {
            throw ValidationError("--training-only times training, which --training-batch 0 skips: give a batch of 2 or more")
        }
        if let batch = inferenceBatches.first(where: { $0 < 1 }) {
            throw ValidationError("--inference-batches are batch sizes: expected 1 or more, received \(batch)")
        }
        if Set(inferenceBatches).count < inferenceBatches.count {
            throw ValidationError("--inference-batches lists a batch size twice (\(inferenceBatches.map(String.init).joined(separator: " "))): each is measured once per round; use --rounds to repeat")
        }
        if let onnxModel {
            if noOnnx || trainingOnly || detector {
                throw ValidationError("--onnx-model is the ONNX Runtime comparison's model, which \(noOnnx ? "--no-onnx" : trainingOnly ? "--training-only" : "--detector") skips")
            }
            do {
                try FileContents.checkRegularFile(atPath: onnxModel)
            } catch {
                throw ValidationError("--onnx-model: \(error)")
            }
        }
        if rounds < 1 {
            throw ValidationError("--rounds is the number of measuring rounds: expected 1 or more, received \(rounds)")
        }
        if detector && (keras || trainingOnly) {
            throw ValidationError("--detector measures the face detectors; \(keras ? "--keras" : "--training-only") measures a model: run them apart")
        }
        if detector && rounds > 1 {
            throw ValidationError("--rounds repeats the model measurements; --detector measures once (run it again instead)")
        }
        if keras && model != .miniXception {
            throw ValidationError("--keras compares Arriaga's mini-Xception: it needs --model mini-xception, received --model \(model.rawValue)")
        }
        if keras && trainingBatch <= 0 {
            throw ValidationError("--keras compares training: it needs --training-batch above 0, received \(trainingBatch)")
        }
        // Compared by division: a batch of Int.max faces must be refused, not overflow.
        let largestBatch = Self.maximumBatchPixels / (inputSize * inputSize)
        if let batch = ([trainingBatch] + inferenceBatches).first(where: { $0 > largestBatch }) {
            throw ValidationError("a batch is at most \(Self.maximumBatchPixels) pixels (65,536 faces of 48x48, 600 MB of input; memory grows with it), received \(batch) faces of \(inputSize)x\(inputSize)")
        }
        // Options of the model measurements that --detector or --training-only would leave unused.
        let defaults = Self.standard
        if detector, let unused = [("--precision", precision != defaults.precision), ("--model", model != defaults.model),
                                   ("--input-size", inputSize != defaults.inputSize),
                                   ("--training-batch", trainingBatch != defaults.trainingBatch),
                                   ("--inference-batches", inferenceBatches != defaults.inferenceBatches),
                                   ("--no-onnx", noOnnx)].first(where: \.1) {
            throw ValidationError("\(unused.0) applies to the model measurements; --detector measures the face detectors (float32, against OpenCV)")
        }
        if trainingOnly, let unused = [("--inference-batches", inferenceBatches != defaults.inferenceBatches),
                                       ("--layers", layers)].first(where: \.1) {
            throw ValidationError("\(unused.0) times inference, which --training-only skips")
        }
    }

    /// The most pixels a measured batch holds: 65,536 faces of 48x48, 600 MB of float32 input alone.
    static let maximumBatchPixels = 65_536 * 48 * 48

    func run() throws {
        print(SystemDescription.current)
        #if DEBUG
        StandardError.write("warning: this is a debug build, several times slower than a release one: its figures are not the product's (swift build -c release)\n")
        #endif
        if detector {
            let sample = try RGBImage(contentsOf: try BundledModel.locate(
                fileName: "astronaut.jpg", environment: nil, folder: "samples",
                remedy: "run bench from the package's folder, where samples/ is"))
            try DetectorBench(sample: sample,
                              yunetPath: try BundledModel.yunet(remedy: "run bench from the package's folder, where models/ is").path,
                              cascadePath: HaarCascade.locate(), seconds: seconds, layers: layers).run()
            printPeakMemory()
            return
        }
        let architecture = Architecture(model, inputSize: inputSize)
        precision.noteFallback()
        let benchmark = Benchmark(architecture: architecture, seconds: seconds, precision: precision)
        let batches = trainingOnly ? [] : inferenceBatches
        let exported = !noOnnx && !trainingOnly && onnxModel == nil ? try exportBenchmarkedNetwork(architecture) : nil
        let peak = ArithmeticPeak.measure()
        print(peak)
        var measured = BenchmarkRounds()
        // Each figure is measured beside its peer's (Emovere's training beside Keras, each inference batch beside ONNX
        // Runtime's), seconds apart rather than a whole round apart, and in alternating order, so a machine whose speed
        // drifts (a cloud VM's moves 20-40 % within minutes) moves both sides of a ratio alike.
        var onnxTries = PeerTries(name: "ONNX Runtime", active: !noOnnx && !trainingOnly)
        var kerasTries = PeerTries(name: "Keras", active: keras)
        let onnxName = onnxModel == nil ? "ONNX Runtime (float32)" : "ONNX Runtime"  // a given file runs its own types
        for round in 1...rounds {
            if rounds > 1 { print("round \(round) of \(rounds)") }
            let peerFirst = round.isMultiple(of: 2)
            if trainingBatch > 0 {
                let kerasFit = KerasComparison(inputSize: inputSize, batchSize: trainingBatch, seconds: seconds,
                                               threads: Parallel.workerCount)
                let outcome = try measure({ try benchmark.training(batchSize: trainingBatch) },
                                          beside: kerasTries.active ? Peer(name: "Keras fit (float32)", run: kerasFit.run) : nil,
                                          peerFirst: peerFirst, peak: peak, into: &measured)
                kerasTries.record(outcome)
            }
            for (index, batch) in batches.enumerated() {
                let onnxRuntime = OnnxRuntimeComparison(model: onnxModel.map { .file($0) } ?? .bytes(exported ?? []),
                                                        architecture: architecture.name, inputSize: inputSize,
                                                        batch: batch, seconds: seconds, threads: Parallel.workerCount)
                let outcome = try measure({ try benchmark.inference(batchSize: batch) },
                                          beside: onnxTries.active ? Peer(name: onnxName, run: onnxRuntime.run,
                                                                          runsTheSameNetwork: onnxModel == nil) : nil,
                                          peerFirst: peerFirst, peak: peak, into: &measured)
                onnxTries.record(outcome)
                if layers, round == 1, index == 0 { try printLayers(benchmark, batch: batch) }
            }
        }
        if rounds > 1 {
            print("medians of \(rounds) rounds:")
            for line in measured.summary { print(line) }
        }
        printPeakMemory()
    }

    /// Whether a peer is still measured in this run: not once it cannot run here (it said why), ran past its time
    /// limit, or failed twice in a row (a peer that fails the same way each time would repeat its failure, or its
    /// time limit, for every figure of every round); one failure alone is tried again.
    private struct PeerTries {
        let name: String
        private(set) var active: Bool
        private var failuresInARow = 0

        init(name: String, active: Bool) {
            self.name = name
            self.active = active
        }

        mutating func record(_ outcome: PythonComparison.Outcome?) {
            switch outcome {
            case nil:
                return
            case .measured?:
                failuresInARow = 0
            case .skipped?:
                active = false
            case .timedOut?:
                active = false
                print("\(name) is not measured again in this run: it ran past its time limit")
            case .failed?:
                failuresInARow += 1
                guard failuresInARow == 2 else { return }
                active = false
                print("\(name) is not measured again in this run: it failed twice in a row")
            }
        }
    }

    /// A peer's measurement of one figure: its name in the ratios, a run that prints its lines and returns its
    /// images/s (or why there are none), and whether it runs the very network Emovere's figure measures (its share of
    /// the arithmetic peak then follows from the same multiply-adds per image).
    private struct Peer {
        let name: String
        let run: () -> PythonComparison.Outcome
        var runsTheSameNetwork = false
    }

    /// Measures one of Emovere's figures with `emovere` beside `peer`'s, the peer first when `peerFirst`; prints
    /// Emovere's line and their ratio and records both in `measured`.
    /// - Returns: the peer's outcome (nil without a peer).
    @discardableResult
    private func measure(_ emovere: () throws -> Benchmark.Measurement, beside peer: Peer?,
                         peerFirst: Bool, peak: ArithmeticPeak,
                         into measured: inout BenchmarkRounds) throws -> PythonComparison.Outcome? {
        let earlyOutcome = peerFirst ? peer?.run() : nil
        let result = try emovere()
        print(result.formatted(peak: peak))
        let outcome = peerFirst ? earlyOutcome : peer?.run()  // python's lines follow Emovere's (it flushes them first)
        measured.record(name: result.name, rate: result.imagesPerSecond, peer: peer.map { ($0.name, outcome?.rate) })
        if let peer, let peerRate = outcome?.rate {
            let share = peer.runsTheSameNetwork
                ? String(format: " (%@ at %.0f %% of the peak)", peer.name as NSString,
                         peak.percent(of: peerRate * Double(result.multiplyAddsPerImage)))
                : ""
            print(String(format: "ratio %@ / %@: %.2f%@", result.name as NSString, peer.name as NSString,
                         result.imagesPerSecond / peerRate, share as NSString))
        }
        return outcome
    }

    /// The most memory this process held, whatever it measured.
    private func printPeakMemory() {
        print(String(format: "peak resident memory of emovere bench (everything it measured): %.0f MB",
                     Double(SystemDescription.peakResidentBytes()) / 1_048_576))
    }

    private func printLayers(_ benchmark: Benchmark, batch: Int) throws {
        let timings = try benchmark.layerTimings(batchSize: batch)
        let total = timings.reduce(0) { $0 + $1.microseconds }
        let workers = min(Parallel.workerCount, batch)
        let passing = "\(workers.counting("worker")) passing faces one at a time, as the batch runs"
        let mode = batch > 1 ? " (\(passing))" : ""
        print("layers, batch \(batch)\(mode): \(String(format: "%.1f", total)) µs per pass")
        for timing in timings {
            print(String(format: "  %8.2f µs  %5.1f %%  %@", timing.microseconds, 100 * timing.microseconds / total,
                         timing.name as NSString))
        }
    }

    /// The network the inference figures measure (seed 1, batch norms folded) as ONNX bytes, so ONNX Runtime runs
    /// the same weights.
    private func exportBenchmarkedNetwork(_ architecture: Architecture) throws -> [UInt8] {
        let network = try Model(architecture: architecture, seed: 1).inferenceModel()
        let card = ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: architecture.inputSize),
                             parameterCount: network.parameterCount)
        return try ONNXExporter.export(network, card: card)
    }
}
