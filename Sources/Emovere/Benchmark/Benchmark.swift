import EmovereCore
import EmovereData
import EmovereNN
import EmovereTensor
import Foundation

/// Measures a model's training and inference throughput on synthetic faces (release builds only give
/// meaningful figures). Training steps are `Trainer`'s: augmentation, preprocessing, forward, loss, backward
/// and the Adam update.
public struct Benchmark {
    public let architecture: Architecture
    /// Wall-clock seconds per measurement (after `warmUpSeconds` of warm-up).
    public let seconds: Double
    /// The convolutions' arithmetic: the inference network's (`InferenceModel.precision`) and the training steps'
    /// (`TrainingRecipe.precision`).
    public let precision: Precision

    /// Measures `architecture` for `seconds` per figure, inference and training in `precision` where this CPU runs it.
    public init(architecture: Architecture, seconds: Double, precision: Precision = .float32) {
        self.architecture = architecture
        self.seconds = seconds
        self.precision = precision.supported
    }

    /// One measured figure.
    public struct Measurement: Sendable {
        public var name: String
        public var imagesPerSecond: Double
        /// Images per CPU-second of the whole process (all workers, spinning included): a figure that
        /// stays comparable when other programs share the machine.
        public var imagesPerCPUSecond: Double
        /// The network's multiply-adds per image: its forward pass for inference; for training three times that
        /// (forward, input gradient, weight gradient), an estimate that leaves out augmentation and the update.
        public var multiplyAddsPerImage: Int
        /// The arithmetic measured: bfloat16 multiply-adds go twice as fast as the float32 peak's.
        public var precision = Precision.float32

        /// Multiply-adds per second: `imagesPerSecond * multiplyAddsPerImage`.
        public var multiplyAddsPerSecond: Double { imagesPerSecond * Double(multiplyAddsPerImage) }
    }

    /// Training images/s at `batchSize` with the standard augmentation: `Trainer`'s own step on synthetic faces.
    public func training(batchSize: Int) throws -> Measurement {
        let dataset = syntheticDataset(count: batchSize * 8, size: architecture.inputSize)
        let recipe = TrainingRecipe(architecture: architecture, batchSize: batchSize, precision: precision)
        let trainer = try Trainer(recipe: recipe, training: dataset, validation: dataset, directory: "")
        var mixing = SplitMix64(seed: 1)
        var step = 0
        let rate = measure {
            let start = (step * batchSize) % dataset.count
            _ = trainer.step(Array(start..<(start + batchSize))[...], seed: UInt64(step), learningRate: 1e-3, mixing: &mixing)
            step += 1
            return batchSize
        }
        let suffix = precision == .float32 ? "" : " (\(precision))"
        return Measurement(name: "\(architecture) training\(suffix), batch \(batchSize), augmented",
                           imagesPerSecond: rate.wall, imagesPerCPUSecond: rate.cpu,
                           multiplyAddsPerImage: 3 * trainer.model.multiplyAddsPerFace, precision: precision)
    }

    /// Inference images/s at `batchSize` (preprocessed input to probabilities).
    public func inference(batchSize: Int) throws -> Measurement {
        let size = architecture.inputSize
        let model = try Model(architecture: architecture, seed: 1).inferenceModel(precision: precision)
        let input = Tensor(shape: [batchSize, size, size, 1], values: (0..<(batchSize * size * size)).map {
            Float(($0 &* 2_654_435_761) % 255) / 127.5 - 1
        })
        let rate = measure {
            _ = model.probabilities(input)
            return batchSize
        }
        let suffix = precision == .float32 ? "" : " (\(precision))"
        return Measurement(name: "\(architecture) inference\(suffix), batch \(batchSize)", imagesPerSecond: rate.wall,
                           imagesPerCPUSecond: rate.cpu, multiplyAddsPerImage: model.multiplyAddsPerFace,
                           precision: precision)
    }

    /// Seconds each measurement first runs untimed (at least once): caches, allocations and worker threads warm, as
    /// `bench`'s ONNX Runtime script warms its session for as long.
    public var warmUpSeconds: Double { min(1, seconds / 4) }

    /// Runs `body` (which returns images processed) for `warmUpSeconds` to warm up, then repeatedly for `seconds`;
    /// returns images per wall-clock second and per process CPU-second.
    private func measure(_ body: () -> Int) -> (wall: Double, cpu: Double) {
        let warmUp = Stopwatch()
        repeat { _ = body() } while warmUp.elapsedSeconds < warmUpSeconds
        let stopwatch = Stopwatch()
        var images = 0
        repeat { images += body() } while stopwatch.elapsedSeconds < seconds
        return (Double(images) / stopwatch.elapsedSeconds, Double(images) / max(stopwatch.elapsedCPUSeconds, 1e-9))
    }

    private func syntheticDataset(count: Int, size: Int) -> FaceDataset {
        var random = SplitMix64(seed: 7)
        let pixels = (0..<(count * size * size)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        return FaceDataset(imageSize: size, pixels: pixels, labels: (0..<count).map { $0 % Emotion.count })
    }
}

extension Benchmark {
    /// One layer's share of an inference pass.
    public struct LayerTiming: Sendable {
        /// The layer's type and output shape, e.g. `SeparableConv2d -> [1, 44, 44, 16]`.
        public var name: String
        public var microseconds: Double
    }

    /// Microseconds per inference pass spent in each leaf layer (containers opened, sums left out), at
    /// `batchSize`, on the inference-folded model, run as `inference` runs it: where the time of `inference` goes.
    /// One face passes the network with each layer split over the workers; a batch is split over the workers, each
    /// passing its faces one at a time through its own copy of the network (`InferenceModel`; one copy on one worker),
    /// so a layer's share is its time per face on one worker, averaged over the workers, times the most faces a worker
    /// passes.
    public func layerTimings(batchSize: Int) throws -> [LayerTiming] {
        let size = architecture.inputSize
        let input = Tensor(shape: [batchSize, size, size, 1], values: (0..<(batchSize * size * size)).map {
            Float(($0 &* 7_919) % 255) / 127.5 - 1
        })
        let shares = Parallel.chunks(batchSize, maximumChunks: max(1, min(Parallel.workerCount, batchSize)))
        let copies = try shares.map { _ in
            try Model(architecture: architecture, seed: 1).inferenceModel(precision: precision)
        }
        guard batchSize > 1 else { return LayerTimer.timings(of: copies[0].network, input: input, seconds: seconds) }
        let faceValues = size * size
        let perWorker = UnsafeMutablePointer<[LayerTiming]>.allocate(capacity: shares.count)
        perWorker.initialize(repeating: [], count: shares.count)
        defer { perWorker.deinitialize(count: shares.count).deallocate() }
        let shared = UnsafeSendable((copies: copies, input: input, results: perWorker, seconds: seconds))
        Parallel.forEachChunk(shares.count, maximumChunks: shares.count) { worker, _ in
            let first = shares[worker].lowerBound * faceValues
            let values = UnsafeBufferPointer(start: shared.value.input.pointer + first, count: faceValues)
            let face = Tensor(shape: [1, size, size, 1], values: Array(values))
            shared.value.results[worker] = LayerTimer.timings(of: shared.value.copies[worker].network, input: face,
                                                              seconds: shared.value.seconds)
        }
        let faces = Double(shares.map(\.count).max() ?? 1)
        return perWorker[0].indices.map { layer in
            let perFace = (0..<shares.count).reduce(0) { $0 + perWorker[$1][layer].microseconds } / Double(shares.count)
            return LayerTiming(name: perWorker[0][layer].name, microseconds: perFace * faces)
        }
    }
}

/// Times the leaf layers of any network by walking its `LayerGraph` structure (the same walk the ONNX exporter
/// makes), so chains, residual blocks and graphs with fan-out and several outputs are all profiled alike.
public enum LayerTimer {
    /// Microseconds per forward pass (inference mode) of each leaf layer of `network` on `input`, averaged over
    /// passes run for at least `seconds`; named `<path> <type> -> <output shape>`.
    public static func timings(of network: any Layer, input: Tensor, seconds: Double) -> [Benchmark.LayerTiming] {
        var totals: [Double] = []
        var names: [String] = []
        var passes = 0
        let stopwatch = Stopwatch()
        repeat {
            var index = 0
            _ = timeLeaves(network, path: "", input: input, totals: &totals, names: &names, index: &index)
            passes += 1
        } while stopwatch.elapsedSeconds < seconds
        return zip(names, totals).map { Benchmark.LayerTiming(name: $0, microseconds: $1 / Double(passes) * 1e6) }
    }

    private static func timeLeaves(
        _ layer: any Layer, path: String, input: Tensor, totals: inout [Double], names: inout [String], index: inout Int
    ) -> [Tensor] {
        if let container = layer as? any LayerGraph {
            return container.walk(input: input, layer: { _, node, child, value in
                timeLeaves(child, path: path.isEmpty ? node.name : "\(path).\(node.name)", input: value,
                           totals: &totals, names: &names, index: &index)[0]
            }, add: { _, _, values in
                let sum = Tensor(shape: values[0].shape)
                for value in values { Elementwise.add(sum, value, into: sum) }
                return sum
            })
        }
        let (output, seconds) = Stopwatch.measure { layer.forward(input, mode: .inference) }
        if index == totals.count {
            totals.append(0)
            names.append("\(path) \(type(of: layer)) -> \(output.shape)")
        }
        totals[index] += seconds
        index += 1
        return [output]
    }
}
