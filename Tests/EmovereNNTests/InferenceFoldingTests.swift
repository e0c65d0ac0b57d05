import EmovereCore
@testable import EmovereNN
import EmovereTensor
import EmovereTestSupport
import Testing

/// The inference-folded model (batch norms folded into convolutions, ReLUs fused, the head's
/// convolution + global average pooling computed as one product, direct convolution kernels) gives
/// the probabilities of the plain model in inference mode.
struct InferenceFoldingTests {
    @Test(arguments: [("mini-xception", 48), ("mini-xception", 64), ("wide-xception", 48)], [1, 5])
    func foldedModelMatchesPlainModel(architecture: (name: String, inputSize: Int), batch: Int) throws {
        let inputSize = architecture.inputSize
        let architecture = Architecture(name: architecture.name, inputSize: inputSize)
        let plain = try Self.modelWithStatistics(architecture)
        let folded = try plain.inferenceModel()
        let input = Tensor(shape: [batch, inputSize, inputSize, 1],
                           values: randomValues(batch * inputSize * inputSize, seed: 9))
        let expected = plain.probabilities(input).values
        let actual = folded.probabilities(input).values
        #expect(closeness(actual, expected, relativeTolerance: 1e-3, absoluteTolerance: 1e-5) <= 1)
    }

    /// `architecture` (seed 3) with non-trivial batch-norm statistics and affine parameters, so folding has
    /// something to fold.
    static func modelWithStatistics(_ architecture: Architecture) throws -> Model {
        let plain = try Model(architecture: architecture, seed: 3)
        var state = plain.stateDictionary()
        for (index, name) in state.keys.sorted().enumerated() {
            guard let entry = state[name] else { continue }
            let seed = UInt64(index + 100)
            if name.hasSuffix("moving_variance") {
                state[name] = (entry.shape, randomValues(entry.values.count, seed: seed, in: 0.2...2))
            } else if name.hasSuffix("moving_mean") || name.hasSuffix("beta") || name.hasSuffix("bias") {
                state[name] = (entry.shape, randomValues(entry.values.count, seed: seed, in: -0.5...0.5))
            } else if name.hasSuffix("gamma") {
                state[name] = (entry.shape, randomValues(entry.values.count, seed: seed, in: 0.5...1.5))
            }
        }
        try plain.load(state)
        return plain
    }

    /// A bfloat16 inference model runs its convolutions of at least `bfloat16MinimumFilters` filters with even runs in
    /// bfloat16 and the others (a one-channel stem's runs of 3, mini-Xception's 8- and 16-filter layers) in float32,
    /// and its logits stay within 2 % of the float32 model's largest logit, not equal to them.
    @Test(.enabled(if: Precision.isBFloat16Supported, "the bfloat16 kernels do not run here (no AVX512_BF16, or EMOVERE_MAX_ISA)"),
          arguments: [("mini-xception", 48), ("wide-xception", 48)])
    func bfloat16ModelStaysCloseToFloat32(architecture: (name: String, inputSize: Int)) throws {
        let inputSize = architecture.inputSize
        let plain = try Self.modelWithStatistics(Architecture(name: architecture.name, inputSize: inputSize))
        let halves = try plain.inferenceModel(precision: .bfloat16)
        #expect(halves.precision == .bfloat16)
        let convolutions = halves.network.nestedLayers.compactMap { layer in
            (layer as? Conv2d) ?? (layer as? SeparableConv2d)?.pointwise
        }
        let precisions = convolutions.map(\.precision)
        let expected = convolutions.indices.map { index in
            index > 0 && convolutions[index].filters >= Convolution.bfloat16MinimumFilters ? Precision.bfloat16 : .float32
        }
        #expect(precisions == expected && precisions.contains(.bfloat16), "\(precisions)")
        let input = Tensor(shape: [3, inputSize, inputSize, 1], values: randomValues(3 * inputSize * inputSize, seed: 9))
        let single = try plain.inferenceModel().logits(input).values
        let actual = halves.logits(input).values
        let largest = single.map(abs).max() ?? 0
        let difference = zip(actual, single).map { $0.isNaN || $1.isNaN ? .infinity : abs($0 - $1) }.max() ?? 0
        #expect(difference > 0 && difference <= 0.02 * largest, "largest logit \(largest), difference \(difference)")
    }

    /// The direct path reads a packed copy of the kernel: an unfrozen convolution repacks on every pass, so a
    /// changed weight (a training step) shows in the next inference pass; a frozen one packs once, and absorbing
    /// a batch norm after freezing repacks.
    @Test func packedWeightsFollowTheKernel() throws {
        let convolution = Conv2d(filters: 20, kernelSize: 3, padding: .same)
        var random = SplitMix64(seed: 4)
        _ = try convolution.build(inputShape: [5, 5, 3], random: &random)
        let input = Tensor(shape: [1, 5, 5, 3], values: randomValues(75, seed: 5))
        func output() -> [Float] { convolution.forward(input, mode: .inference).values }
        let before = output()
        guard let kernel = convolution.kernel?.value else { Issue.record("no kernel after build"); return }
        for index in 0..<kernel.count { kernel.pointer[index] *= 2 }
        let doubled = output()
        #expect(closeness(doubled, before.map { $0 * 2 }, absoluteTolerance: 1e-5) <= 1, "unfrozen: repacked")
        convolution.freezeWeights()
        #expect(closeness(output(), doubled, absoluteTolerance: 1e-5) <= 1)
        convolution.absorb(scale: [Float](repeating: 0.5, count: 20), shift: [Float](repeating: 0, count: 20))
        #expect(closeness(output(), before, absoluteTolerance: 1e-5) <= 1, "frozen: repacked after absorb")
    }

    /// A batch split over several copies of the network gives every face the probabilities it gets alone, whatever
    /// the number of copies (more than the machine's workers included) and however the faces divide among them.
    @Test(arguments: [1, 2, 3, 5])
    func batchSplitOverCopiesMatchesEachFaceAlone(workers: Int) throws {
        let model = try Model(architecture: Architecture(name: "mini-xception", inputSize: 48), seed: 5).inferenceModel()
        let batch = 7, pixels = 48 * 48
        let input = Tensor(shape: [batch, 48, 48, 1], values: randomValues(batch * pixels, seed: 11))
        let together = model.probabilities(input, workers: workers).values
        for image in 0..<batch {
            let face = Tensor(shape: [1, 48, 48, 1], values: Array(input.values[(image * pixels)..<((image + 1) * pixels)]))
            let alone = model.probabilities(face, workers: 1).values
            #expect(closeness(Array(together[(image * 7)..<((image + 1) * 7)]), alone, absoluteTolerance: 1e-6) <= 1,
                    "face \(image) of \(batch) over \(workers) copies")
        }
    }

    /// `maximumCopies` bounds the copies a batch prepares (a server's recognizers share the workers).
    @Test func maximumCopiesBoundsThePreparedCopies() throws {
        let model = try Model(architecture: Architecture(name: "tiny-cnn", inputSize: 16), seed: 2).inferenceModel()
        let input = Tensor(shape: [6, 16, 16, 1], values: randomValues(6 * 256, seed: 3))
        model.maximumCopies = 1
        let single = model.probabilities(input).values
        #expect(model.copyCount == 1)
        let split = model.probabilities(input, workers: 3).values
        #expect(model.copyCount == 3)
        #expect(closeness(split, single, absoluteTolerance: 1e-6) <= 1)
    }
}
