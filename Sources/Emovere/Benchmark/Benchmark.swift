import EmovereData
import EmovereNN
import EmovereTensor

/// Measures a model's training and inference throughput on synthetic faces (release builds only give
/// meaningful figures). Training steps include augmentation, preprocessing, forward, loss, backward
/// and the Adam update, exactly as `Trainer` runs them.
public struct Benchmark {
    public let architecture: Architecture
    /// Wall-clock seconds per measurement (after one warm-up step).
    public let seconds: Double

    public init(architecture: Architecture, seconds: Double) {
        self.architecture = architecture
        self.seconds = seconds
    }

    /// One measured figure.
    public struct Measurement: Sendable {
        public var name: String
        public var imagesPerSecond: Double
        public var formatted: String { String(format: "%-40@ %10.0f images/s", name as NSString, imagesPerSecond) }
    }

    /// Measures training at `trainingBatch` (skipped when 0) and inference at each of `inferenceBatches`.
    public func run(trainingBatch: Int, inferenceBatches: [Int]) throws -> [Measurement] {
        var results = trainingBatch > 0 ? [try training(batchSize: trainingBatch)] : []
        for batch in inferenceBatches { results.append(try inference(batchSize: batch)) }
        return results
    }

    /// Training images/s at `batchSize` with the standard augmentation.
    public func training(batchSize: Int) throws -> Measurement {
        let size = architecture.inputSize
        let dataset = syntheticDataset(count: batchSize * 8, size: size)
        let recipe = TrainingRecipe(architecture: architecture, batchSize: batchSize)
        let model = try Model(architecture: architecture, seed: 1)
        let optimizer = Optimizer(rule: recipe.optimizer, weightDecay: recipe.weightDecay, parameters: model.parameters)
        let input = Tensor(shape: [batchSize, size, size, 1])
        let targets = Tensor(shape: [batchSize, architecture.classCount])
        let probabilities = Tensor(shape: targets.shape)
        let gradient = Tensor(shape: targets.shape)
        let filler = InputBatch(preprocessing: recipe.preprocessing)
        var step = 0
        let images = measure {
            let start = (step * batchSize) % dataset.count
            let indices = Array(start..<(start + batchSize))[...]
            filler.fill(input, from: dataset, indices: indices, augmentation: .standard, seed: UInt64(step))
            for (row, index) in indices.enumerated() {
                for k in 0..<architecture.classCount { targets[row * architecture.classCount + k] = k == dataset.labels[index] ? 1 : 0 }
            }
            let logits = model.logits(input, mode: ForwardMode(isTraining: true, seed: UInt64(step)))
            _ = Loss.softmaxCrossEntropy(logits: logits, targets: targets, sampleWeights: nil,
                                         probabilities: probabilities, logitsGradient: gradient)
            model.backward(gradient)
            optimizer.update(learningRate: 1e-3)
            step += 1
            return batchSize
        }
        return Measurement(name: "\(architecture) training, batch \(batchSize), augmented", imagesPerSecond: images)
    }

    /// Inference images/s at `batchSize` (preprocessed input to probabilities).
    public func inference(batchSize: Int) throws -> Measurement {
        let size = architecture.inputSize
        let model = try Model(architecture: architecture, seed: 1)
        model.foldBatchNormsForInference()
        let input = Tensor(shape: [batchSize, size, size, 1], values: (0..<(batchSize * size * size)).map {
            Float(($0 &* 2_654_435_761) % 255) / 127.5 - 1
        })
        let images = measure {
            _ = model.probabilities(input)
            return batchSize
        }
        return Measurement(name: "\(architecture) inference, batch \(batchSize)", imagesPerSecond: images)
    }

    /// Runs `body` (which returns images processed) once to warm up, then repeatedly for `seconds`.
    private func measure(_ body: () -> Int) -> Double {
        _ = body()
        let stopwatch = Stopwatch()
        var images = 0
        repeat { images += body() } while stopwatch.elapsedSeconds < seconds
        return Double(images) / stopwatch.elapsedSeconds
    }

    private func syntheticDataset(count: Int, size: Int) -> FaceDataset {
        var random = SplitMix64(seed: 7)
        let pixels = (0..<(count * size * size)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        return FaceDataset(imageSize: size, pixels: pixels, labels: (0..<count).map { $0 % Emotion.count })
    }
}

import Foundation
