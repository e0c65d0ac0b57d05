import EmovereNN
import EmovereTensor
import EmovereTestSupport
import Testing

/// `Model.recomputeBatchNormStatistics`: every batch norm's running mean and variance become the mean of its
/// statistics over the batches, whatever they were before and in whatever order the batches come.
struct BatchNormStatisticsTests {
    static let architecture = Architecture(.miniXception, inputSize: 24)
    static let batchSize = 4

    /// Batch `index`'s images, from its own seed.
    static func batch(_ index: Int, into input: Tensor) {
        let values = randomValues(input.count, seed: 700 + UInt64(index))
        for position in 0..<input.count { input[position] = values[position] }
    }

    /// The running statistics (`moving_mean`, `moving_variance`) of `model` after re-estimating them on `batches`.
    static func statistics(_ model: Model, batches: [Int]) -> [String: [Float]] {
        model.recomputeBatchNormStatistics(batchCount: batches.count, batchSize: batchSize) { index, input in
            batch(batches[index], into: input)
        }
        return model.stateDictionary().filter { $0.key.hasSuffix("moving_mean") || $0.key.hasSuffix("moving_variance") }
            .mapValues(\.values)
    }

    @Test func statisticsAreTheMeanOverTheBatches() throws {
        let model = try Model(architecture: Self.architecture, seed: 5)
        let weights = model.stateDictionary().filter { !$0.key.contains("moving") }.mapValues(\.values)
        let alone = (0..<3).map { Self.statistics(model, batches: [$0]) }
        let together = Self.statistics(model, batches: [0, 1, 2])
        #expect(together.count == model.network.nestedLayers.count { $0 is BatchNorm } * 2 && together.count >= 8)
        for (name, values) in together {
            let mean = values.indices.map { index in alone.map { $0[name]![index] }.reduce(0, +) / 3 }
            #expect(closeness(values, mean, relativeTolerance: 1e-4, absoluteTolerance: 1e-6) <= 1, "\(name)")
            // The batches differ, so the mean is not one batch's statistics.
            #expect(values != alone[0][name]!, "\(name)")
        }
        // Another order, starting from other running statistics: the same mean (exponential averaging would
        // weight the last batches most and keep part of the start).
        let reordered = Self.statistics(model, batches: [2, 0, 1])
        for (name, values) in together {
            #expect(closeness(reordered[name]!, values, relativeTolerance: 1e-4, absoluteTolerance: 1e-6) <= 1, "\(name)")
        }
        #expect(model.stateDictionary().filter { !$0.key.contains("moving") }.mapValues(\.values) == weights)
    }

    /// After re-estimating, training updates the running statistics exponentially again (momentum 0.99).
    @Test func trainingAfterwardsAveragesExponentially() throws {
        let model = try Model(architecture: Self.architecture, seed: 6)
        let before = Self.statistics(model, batches: [0])
        let input = Tensor(shape: [Self.batchSize, 24, 24, 1])
        Self.batch(1, into: input)
        _ = model.logits(input, mode: ForwardMode(isTraining: true))
        let after = model.stateDictionary()
        let second = Self.statistics(try Model(architecture: Self.architecture, seed: 6), batches: [1])
        #expect(before.count >= 8, "\(before.count) running statistics")
        for (name, values) in before {
            let expected = values.indices.map { 0.99 * values[$0] + 0.01 * second[name]![$0] }
            #expect(closeness(after[name]!.values, expected, relativeTolerance: 1e-4, absoluteTolerance: 1e-6) <= 1, "\(name)")
        }
    }
}
