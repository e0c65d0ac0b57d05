import EmovereCore
import EmovereNN
import EmovereTensor
import EmovereTestSupport
import Testing

/// Backward passes after inference-mode forward passes (running statistics), as explanations need them, and the
/// guided-backpropagation rule of ReLUs.
struct InferenceBackwardTests {
    /// A layer built with random (not default) running statistics in every batch norm inside it, so inference
    /// differs from the identity normalisation.
    final class WithRunningStatistics: Layer {
        let wrapped: any Layer
        let seed: UInt64

        init(_ wrapped: any Layer, seed: UInt64 = 11) {
            self.wrapped = wrapped
            self.seed = seed
        }

        func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
            let shape = try wrapped.build(inputShape: inputShape, random: &random)
            let norms = ((wrapped as? Sequential)?.nestedLayers ?? [wrapped]).compactMap { $0 as? BatchNorm }
            precondition(!norms.isEmpty, "WithRunningStatistics wraps no batch norm: it would test the default statistics")
            for (index, norm) in norms.enumerated() {
                guard let mean = norm.runningMean?.value, let variance = norm.runningVariance?.value,
                      let gamma = norm.gamma?.value, let beta = norm.beta?.value else {
                    preconditionFailure("a built batch norm has its parameters")
                }
                let stream = seed &+ 10 &* UInt64(index)
                let means = randomValues(mean.count, seed: stream, in: -0.5...0.5)
                let variances = randomValues(variance.count, seed: stream &+ 1, in: 0.2...2)
                let gammas = randomValues(gamma.count, seed: stream &+ 2, in: 0.5...1.5)
                let betas = randomValues(beta.count, seed: stream &+ 3, in: -0.3...0.3)
                for c in 0..<mean.count {
                    (mean[c], variance[c], gamma[c], beta[c]) = (means[c], variances[c], gammas[c], betas[c])
                }
            }
            return shape
        }

        func forward(_ input: Tensor, mode: ForwardMode) -> Tensor { wrapped.forward(input, mode: mode) }

        func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
            wrapped.backward(outputGradient, needsInputGradient: needsInputGradient)
        }

        var namedParameters: [NamedParameter] { wrapped.namedParameters }
    }

    @Test func batchNormInferenceBackwardMatchesFiniteDifferences() throws {
        let result = try gradientCheck(WithRunningStatistics(BatchNorm()), inputShape: [3, 3, 5], batch: 3,
                                       mode: .differentiableInference)
        #expect(result.worst < 2e-2, "\(result)")
    }

    @Test func batchNormInferenceInputGradientIsTheScaledOutputGradient() throws {
        let norm = BatchNorm()
        var random = SplitMix64(seed: 1)
        _ = try WithRunningStatistics(norm).build(inputShape: [2, 2, 3], random: &random)
        let input = Tensor(shape: [2, 2, 2, 3], values: randomValues(24, seed: 2))
        _ = norm.forward(input, mode: .inference)
        let outputGradient = Tensor(shape: [2, 2, 2, 3], values: randomValues(24, seed: 3))
        let inputGradient = try #require(norm.backward(outputGradient, needsInputGradient: true)).values
        let gamma = try #require(norm.gamma).value, variance = try #require(norm.runningVariance).value
        let expected = (0..<24).map { index in
            gamma[index % 3] / (variance[index % 3] + norm.epsilon).squareRoot() * outputGradient[index]
        }
        #expect(closeness(inputGradient, expected) <= 1)
    }

    /// A batch norm with its ReLU fused, under running statistics, element by element (the whole-network check
    /// below is a median over directions, which a wrong gradient of one small parameter can slip under).
    @Test func fusedBatchNormReLUInferenceBackwardMatchesFiniteDifferences() throws {
        let layer = Sequential { BatchNorm(); ReLU() }
        layer.fuseActivations()
        #expect((layer.layers[0] as? BatchNorm)?.appliesReLU == true)
        let result = try gradientCheck(WithRunningStatistics(layer), inputShape: [3, 3, 5], batch: 3,
                                       mode: .differentiableInference)
        // ReLU's kink: a step may straddle it for an odd element, never for most.
        #expect(result.mismatchFraction < 0.05 && result.parameterErrors.keys.count >= 2, "\(result)")
    }

    /// mini-Xception in inference mode, batch norms with their ReLUs fused: the backward pass explanations use.
    @Test func miniXceptionInferenceBackwardMatchesFiniteDifferences() throws {
        let network = MiniXception.network()
        network.fuseActivations()
        let error = try directionalGradientCheck(WithRunningStatistics(network), inputShape: [24, 24, 1], batch: 2,
                                                 mode: .differentiableInference)
        #expect(error < 5e-2)
    }

    @Test func differentiableInferenceComputesTheSameOutputs() throws {
        let model = try Model(architecture: Architecture(name: "mini-xception", inputSize: 48), seed: 4)
        let input = Tensor(shape: [2, 48, 48, 1], values: randomValues(2 * 48 * 48, seed: 5))
        let expected = model.logits(input, mode: .inference).values
        let actual = model.logits(input, mode: .differentiableInference).values
        #expect(closeness(actual, expected, relativeTolerance: 1e-4, absoluteTolerance: 1e-5) <= 1)
    }

    /// Inputs of both signs and upstream gradients of both signs: the four combinations per element.
    static let inputs: [Float] = [1.5, 1.5, -0.5, -0.5, 0.25, 2, -3, 0.75]
    static let gradients: [Float] = [0.8, -0.6, 0.4, -0.2, -1, 1, 0.5, -0.3]

    @Test(arguments: [ReLUBackwardRule.gradient, .guided])
    func reluBackwardRule(rule: ReLUBackwardRule) throws {
        let relu = ReLU()
        relu.backwardRule = rule
        _ = relu.forward(Tensor(shape: [1, 8], values: Self.inputs), mode: .differentiableInference)
        let inputGradient = try #require(relu.backward(Tensor(shape: [1, 8], values: Self.gradients),
                                                       needsInputGradient: true)).values
        let expected = zip(Self.inputs, Self.gradients).map { x, dy -> Float in
            x > 0 && (rule == .gradient || dy > 0) ? dy : 0
        }
        #expect(inputGradient == expected)
        if rule == .guided { #expect(inputGradient.allSatisfy { $0 >= 0 }) }
    }

    /// A batch norm with its ReLU fused, guided: only positive upstream gradients at positive outputs pass, each
    /// scaled by `gamma / sqrt(runningVariance + epsilon)`.
    @Test func guidedFusedBatchNormZeroesNegativeGradients() throws {
        let network = Sequential { BatchNorm(); ReLU() }
        var random = SplitMix64(seed: 1)
        _ = try WithRunningStatistics(network).build(inputShape: [2, 2, 2], random: &random)
        network.fuseActivations()
        network.setReLUBackwardRule(.guided)
        let norm = try #require(network.layers[0] as? BatchNorm)
        #expect(norm.appliesReLU && norm.reluBackwardRule == .guided)
        #expect((network.layers[1] as? ReLU)?.backwardRule == .guided)
        let output = network.forward(Tensor(shape: [1, 2, 2, 2], values: Self.inputs), mode: .differentiableInference)
            .values
        let inputGradient = try #require(network.backward(Tensor(shape: [1, 2, 2, 2], values: Self.gradients),
                                                          needsInputGradient: true)).values
        let gamma = try #require(norm.gamma).value, variance = try #require(norm.runningVariance).value
        let expected = (0..<8).map { index -> Float in
            output[index] > 0 && Self.gradients[index] > 0
                ? gamma[index % 2] / (variance[index % 2] + norm.epsilon).squareRoot() * Self.gradients[index] : 0
        }
        #expect(closeness(inputGradient, expected) <= 1)
        #expect(output.contains { $0 > 0 } && output.contains { $0 == 0 }, "both ReLU branches are exercised")
        #expect(expected.contains { $0 != 0 } && zip(output, Self.gradients).contains { $0 > 0 && $1 < 0 })

        network.setReLUBackwardRule(.gradient)
        #expect(norm.reluBackwardRule == .gradient && (network.layers[1] as? ReLU)?.backwardRule == .gradient)
    }

    @Test func nestedLayersReachResidualBranches() {
        let network = MiniXception.network()
        let nested = network.nestedLayers
        #expect(nested.filter { $0 is Residual }.count == 4)
        // Stem 2 + per module 2 (main) + 1 (shortcut) batch norms.
        #expect(nested.filter { $0 is BatchNorm }.count == 2 + 4 * 3)
        #expect(nested.filter { $0 is ReLU }.count == 2 + 4)
    }
}
