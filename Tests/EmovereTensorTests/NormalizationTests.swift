import EmovereTensor
import EmovereTestSupport
import Testing

/// Training-mode batch norm (`Normalization.statistics`, `normalize`, `backward`) against
/// `Reference.batchNormForward/Backward`.
///
/// Statistics are summed in Double by both, so mean and variance agree to float rounding
/// (relative 1e-5, absolute 1e-6). The normalised output and gradients are float32 expressions of a
/// few terms each; relative 1e-4 with absolute 1e-4 allows for `1/sqrt(var + eps)` amplifying
/// rounding when a channel's variance is small.
struct NormalizationTests {
    static let epsilon: Float = 1e-3

    /// `[rows, channels]` shapes: a single row (variance 0), a few rows, 3x7x9 images seen as rows,
    /// and more than two `Parallel.elementwiseGrain`s of floats (several parallel chunks).
    @Test(arguments: [(1, 3), (5, 8), (63, 16), (189, 3), (4100, 8), (2100, 16)])
    func matchesReference(rows: Int, channels: Int) {
        // An offset mean checks that variance is not computed as E[x²] - E[x]² in float32.
        let input = randomTensor([rows, channels], seed: 41, in: 2...5)
        let gamma = randomTensor([channels], seed: 42, in: 0.5...1.5)
        let beta = randomTensor([channels], seed: 43)
        let outputGradient = randomTensor([rows, channels], seed: 44)

        let mean = garbageTensor([channels])
        let variance = garbageTensor([channels])
        Normalization.statistics(input, channels: channels, mean: mean, variance: variance)
        let inverseStandardDeviation = Tensor(shape: [channels])
        let scale = Tensor(shape: [channels])
        for c in 0..<channels {
            inverseStandardDeviation[c] = 1 / (variance[c] + Self.epsilon).squareRoot()
            scale[c] = gamma[c] * inverseStandardDeviation[c]
        }
        let output = garbageTensor([rows, channels])
        Normalization.normalize(input, channels: channels, mean: mean.pointer, scale: scale.pointer,
                                shift: beta.pointer, into: output)
        let gammaGradient = garbageTensor([channels])
        let betaGradient = garbageTensor([channels])
        let inputGradient = garbageTensor([rows, channels])
        Normalization.backward(
            input: input, outputGradient: outputGradient, channels: channels, mean: mean,
            inverseStandardDeviation: inverseStandardDeviation, gamma: gamma, gammaGradient: gammaGradient,
            betaGradient: betaGradient, inputGradient: inputGradient)

        let expected = Reference.batchNormForward(
            input: input.values, rows: rows, channels: channels, gamma: gamma.values, beta: beta.values,
            epsilon: Self.epsilon)
        let expectedGradients = Reference.batchNormBackward(
            outputGradient: outputGradient.values, input: input.values, rows: rows, channels: channels,
            gamma: gamma.values, epsilon: Self.epsilon)
        #expect(closeness(mean.values, expected.mean, relativeTolerance: 1e-5, absoluteTolerance: 1e-6) <= 1, "mean")
        #expect(closeness(variance.values, expected.variance, relativeTolerance: 1e-4, absoluteTolerance: 1e-6) <= 1,
                "variance")
        #expect(closeness(output.values, expected.output, absoluteTolerance: 1e-4) <= 1, "output")
        #expect(closeness(inputGradient.values, expectedGradients.input, absoluteTolerance: 1e-4) <= 1, "input gradient")
        #expect(closeness(gammaGradient.values, expectedGradients.gamma, absoluteTolerance: 1e-4) <= 1, "gamma gradient")
        #expect(closeness(betaGradient.values, expectedGradients.beta, absoluteTolerance: 1e-4) <= 1, "beta gradient")
    }
}
