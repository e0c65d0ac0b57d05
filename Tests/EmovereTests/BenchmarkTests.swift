import Emovere
import EmovereNN
import EmovereReport
import Testing

/// `emovere bench`'s measurements run: training through the trainer's own step, inference, per-layer timings.
struct BenchmarkTests {
    @Test func measuresTrainingInferenceAndLayers() throws {
        let benchmark = Benchmark(architecture: Architecture(name: "tiny-cnn", inputSize: 12), seconds: 0.05)
        let results = [try benchmark.training(batchSize: 4)] + (try [1, 8].map { try benchmark.inference(batchSize: $0) })
        #expect(results.map(\.name) == ["tiny-cnn 12x12 training, batch 4, augmented", "tiny-cnn 12x12 inference, batch 1",
                                        "tiny-cnn 12x12 inference, batch 8"])
        for result in results {
            #expect(result.imagesPerSecond.isFinite && result.imagesPerSecond > 0, "\(result.formatted())")
            #expect(result.imagesPerCPUSecond.isFinite && result.imagesPerCPUSecond > 0, "\(result.formatted())")
        }
        // Multiply-adds: the network's forward pass per inference image, three times that per training image.
        let forward = try Model(architecture: Architecture(name: "tiny-cnn", inputSize: 12), seed: 1).multiplyAddsPerFace
        #expect(forward > 0 && results.map(\.multiplyAddsPerImage) == [3 * forward, forward, forward])
        // Layers time as the batch runs: a face at a time on each worker, so their outputs hold one face.
        let layers = try benchmark.layerTimings(batchSize: 2)
        #expect(!layers.isEmpty && layers.allSatisfy { $0.microseconds >= 0 })
        #expect(layers.allSatisfy { $0.name.contains("-> [1, ") }, "\(layers.map(\.name))")
    }

    /// Rounds summarise as the median rate and the median of the per-round ratios, which differs from the ratio of
    /// the medians when the peer's rate moves between rounds.
    @Test func roundsGiveMedianRatesAndMedianRatios() {
        var rounds = BenchmarkRounds()
        for (rate, peer) in [(100.0, 200.0), (300.0, 250.0), (200.0, 100.0)] {
            rounds.record(name: "inference, batch 1", rate: rate, peer: (name: "ONNX Runtime", rate: peer))
            rounds.record(name: "training, batch 32", rate: rate / 10)
        }
        #expect(rounds.series.map(\.name) == ["inference, batch 1", "training, batch 32"])
        let inference = rounds.series[0]
        #expect(BenchmarkRounds.median(inference.rates) == 200)
        #expect(BenchmarkRounds.median(inference.peerRates.compactMap { $0 }) == 200)
        #expect(inference.ratios == [0.5, 1.2, 2.0])
        #expect(BenchmarkRounds.median(inference.ratios) == 1.2)  // the ratio of the medians would be 1.0
        #expect(rounds.series[1].ratios.isEmpty)
        #expect(BenchmarkRounds.median([4, 1, 3, 2]) == 2.5)
        #expect(BenchmarkRounds.median([]) == nil)
        let summary = rounds.summary
        #expect(summary.count == 2)
        #expect(summary[0].contains("median of 3") && summary[0].contains("ONNX Runtime 200; ratio 1.20 (rounds: 0.50 1.20 2.00)"),
                "\(summary[0])")
        #expect(!summary[1].contains("ratio"), "\(summary[1])")

        // A round the peer did not run (a time-out) leaves its figures out of the peer's median and the ratios,
        // and says so; the rounds it ran keep theirs.
        var gapped = BenchmarkRounds()
        for (rate, peer) in [(100.0, 200.0), (300.0, nil), (200.0, 100.0)] {
            gapped.record(name: "inference, batch 64", rate: rate, peer: (name: "ONNX Runtime", rate: peer))
        }
        #expect(gapped.series[0].ratios == [0.5, 2.0])
        #expect(gapped.summary.count == 1 && gapped.summary[0].hasSuffix(
            " 200 images/s  median of 3; ONNX Runtime 150; ratio 1.25 (rounds: 0.50 - 2.00; ONNX Runtime ran 2 of them)"),
                "\(gapped.summary)")
        var unmeasured = BenchmarkRounds()
        unmeasured.record(name: "inference, batch 1", rate: 100, peer: (name: "ONNX Runtime", rate: nil))
        #expect(unmeasured.summary.first?.hasSuffix("median of 1; ONNX Runtime ran in none of them") == true,
                "\(unmeasured.summary)")
    }
}
