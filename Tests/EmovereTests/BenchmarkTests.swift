import Emovere
import EmovereNN
import EmovereReport
import Testing

/// `emovere bench`'s measurements run: training through the trainer's own step, inference, per-layer timings.
struct BenchmarkTests {
    @Test func measuresTrainingInferenceAndLayers() throws {
        let benchmark = Benchmark(architecture: Architecture(name: "tiny-cnn", inputSize: 12), seconds: 0.05)
        let results = try benchmark.run(trainingBatch: 4, inferenceBatches: [1, 8])
        #expect(results.map(\.name) == ["tiny-cnn 12x12 training, batch 4, augmented", "tiny-cnn 12x12 inference, batch 1",
                                        "tiny-cnn 12x12 inference, batch 8"])
        for result in results {
            #expect(result.imagesPerSecond.isFinite && result.imagesPerSecond > 0, "\(result.formatted)")
            #expect(result.imagesPerCPUSecond.isFinite && result.imagesPerCPUSecond > 0, "\(result.formatted)")
        }
        let layers = try benchmark.layerTimings(batchSize: 2)
        #expect(!layers.isEmpty && layers.allSatisfy { $0.microseconds >= 0 })
    }
}
