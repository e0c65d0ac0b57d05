import EmovereTensor
import EmovereTestSupport
import Testing

/// Training-mode batch norm (`Normalization.statistics`, `normalize`, `backward`), in every instruction-set
/// variant this CPU runs, against `Reference.batchNormForward/Backward`.
///
/// Statistics are summed in Double by both, so mean and variance agree to float rounding
/// (relative 1e-5, absolute 1e-6). The normalised output and gradients are float32 expressions of a
/// few terms each; relative 1e-4 with absolute 1e-4 allows for `1/sqrt(var + eps)` amplifying
/// rounding when a channel's variance is small.
struct NormalizationTests {
    static let epsilon: Float = 1e-3

    /// `[rows, channels]` shapes: a single row (variance 0), a few rows, 3x7x9 images seen as rows,
    /// more than two `Parallel.elementwiseGrain`s of floats (several parallel chunks), channels that divide a
    /// vector (whole rows per vector, with leftover rows) and several vectors of channels (leftover rows of the
    /// 4 interleaved sums).
    @Test(arguments: [(1, 3), (5, 8), (63, 16), (189, 3), (4100, 8), (2100, 16), (70, 21), (40, 48), (37, 4),
                      (99, 2), (3001, 1), (130, 64), (7, 32)])
    func matchesReference(rows: Int, channels: Int) {
        for instructionSet in InstructionSet.available {
            check(rows: rows, channels: channels, instructionSet: instructionSet)
        }
    }

    func check(rows: Int, channels: Int, instructionSet: InstructionSet) {
        // An offset mean checks that variance is not computed as E[x²] - E[x]² in float32.
        let input = randomTensor([rows, channels], seed: 41, in: 2...5)
        let gamma = randomTensor([channels], seed: 42, in: 0.5...1.5)
        let beta = randomTensor([channels], seed: 43)
        let outputGradient = randomTensor([rows, channels], seed: 44)

        let mean = garbageTensor([channels])
        let variance = garbageTensor([channels])
        Normalization.statistics(input, channels: channels, mean: mean, variance: variance, instructionSet: instructionSet)
        let inverseStandardDeviation = Tensor(shape: [channels])
        let scale = Tensor(shape: [channels])
        for c in 0..<channels {
            inverseStandardDeviation[c] = 1 / (variance[c] + Self.epsilon).squareRoot()
            scale[c] = gamma[c] * inverseStandardDeviation[c]
        }
        let output = garbageTensor([rows, channels])
        Normalization.normalize(input, channels: channels, mean: mean.pointer, scale: scale.pointer,
                                shift: beta.pointer, into: output, instructionSet: instructionSet)
        let gammaGradient = garbageTensor([channels])
        let betaGradient = garbageTensor([channels])
        let inputGradient = garbageTensor([rows, channels])
        Normalization.backward(
            input: input, outputGradient: outputGradient, channels: channels, mean: mean,
            inverseStandardDeviation: inverseStandardDeviation, gamma: gamma, gammaGradient: gammaGradient,
            betaGradient: betaGradient, inputGradient: inputGradient, instructionSet: instructionSet)

        let expected = Reference.batchNormForward(
            input: input.values, rows: rows, channels: channels, gamma: gamma.values, beta: beta.values,
            epsilon: Self.epsilon)
        let expectedGradients = Reference.batchNormBackward(
            outputGradient: outputGradient.values, input: input.values, rows: rows, channels: channels,
            gamma: gamma.values, epsilon: Self.epsilon)
        #expect(closeness(mean.values, expected.mean, relativeTolerance: 1e-5, absoluteTolerance: 1e-6) <= 1, "mean, \(instructionSet)")
        #expect(closeness(variance.values, expected.variance, relativeTolerance: 1e-4, absoluteTolerance: 1e-6) <= 1,
                "variance, \(instructionSet)")
        #expect(closeness(output.values, expected.output, absoluteTolerance: 1e-4) <= 1, "output, \(instructionSet)")
        #expect(closeness(inputGradient.values, expectedGradients.input, absoluteTolerance: 1e-4) <= 1, "input gradient, \(instructionSet)")
        #expect(closeness(gammaGradient.values, expectedGradients.gamma, absoluteTolerance: 1e-4) <= 1, "gamma gradient, \(instructionSet)")
        #expect(closeness(betaGradient.values, expectedGradients.beta, absoluteTolerance: 1e-4) <= 1, "beta gradient, \(instructionSet)")
    }

    /// The gradient through a fused ReLU (`fusedReLU`, plain and guided) equals the plain backward pass of the
    /// gradient masked by hand with the forward pass's own output (`normalize(relu: true)` in the same variant): `dy`
    /// where that output is positive (at least 0 when guided), else 0. The kernels recompute the output's sign, so a
    /// single element rounded differently from the forward pass would pass or stop a whole gradient value.
    @Test(arguments: [(7, 5), (300, 16), (33, 40), (64, 4)])
    func fusedReLUMaskMatchesMaskedGradient(rows: Int, channels: Int) {
        let input = randomTensor([rows, channels], seed: 51)
        let outputGradient = randomTensor([rows, channels], seed: 52)
        let mean = randomTensor([channels], seed: 54)
        let inverseStandardDeviation = randomTensor([channels], seed: 55, in: 0.5...2)
        let gamma = randomTensor([channels], seed: 56, in: 0.5...1.5)
        let shift = randomTensor([channels], seed: 57)
        let scale = Tensor(shape: [channels], values: (0..<channels).map { gamma[$0] * inverseStandardDeviation[$0] })
        for instructionSet in InstructionSet.available {
            let output = garbageTensor([rows, channels])
            Normalization.normalize(input, channels: channels, mean: mean.pointer, scale: scale.pointer,
                                    shift: shift.pointer, relu: true, into: output, instructionSet: instructionSet)
            #expect(output.values.contains(0) && output.values.contains { $0 > 0 }, "both ReLU branches are exercised")
            for guided in [false, true] {
                let masked = Tensor(shape: [rows, channels], values: zip(output.values, outputGradient.values).map {
                    $0 > 0 ? (guided ? max($1, 0) : $1) : 0
                })
                func run(_ gradient: Tensor, fused: Bool) -> [[Float]] {
                    let gammaGradient = garbageTensor([channels]), betaGradient = garbageTensor([channels])
                    let inputGradient = garbageTensor([rows, channels])
                    Normalization.backward(
                        input: input, outputGradient: gradient, channels: channels, mean: mean,
                        inverseStandardDeviation: inverseStandardDeviation, gamma: gamma, gammaGradient: gammaGradient,
                        betaGradient: betaGradient, inputGradient: inputGradient,
                        fusedReLU: fused ? (scale, shift) : nil, guidedReLU: guided, instructionSet: instructionSet)
                    return [inputGradient.values, gammaGradient.values, betaGradient.values]
                }
                for (got, want) in zip(run(outputGradient, fused: true), run(masked, fused: false)) {
                    #expect(closeness(got, want, absoluteTolerance: 1e-5) <= 1, "\(instructionSet), guided \(guided)")
                }
            }
        }
    }

    /// A NaN input stays NaN through the normalisation and its fused ReLU (a diverging network shows in its loss),
    /// in the packed layout (2 channels), whole vectors (16) and the scalar tail (19), in every variant.
    @Test(arguments: [2, 16, 19])
    func normalizeKeepsNaN(channels: Int) {
        let rows = 40
        let input = randomTensor([rows, channels], seed: 61)
        for index in [0, 17, rows * channels - 1] { input[index] = .nan }
        let ones = Tensor(shape: [channels], values: [Float](repeating: 1, count: channels))
        let zeros = Tensor(shape: [channels])
        for instructionSet in InstructionSet.available {
            for relu in [false, true] {
                let output = garbageTensor([rows, channels])
                Normalization.normalize(input, channels: channels, mean: zeros.pointer, scale: ones.pointer,
                                        shift: zeros.pointer, relu: relu, into: output, instructionSet: instructionSet)
                for index in 0..<output.count {
                    let expected = relu && input[index] < 0 ? 0 : input[index]
                    #expect(output[index] == expected || (output[index].isNaN && expected.isNaN),
                            "\(instructionSet), relu \(relu), element \(index)")
                }
            }
        }
    }
}
