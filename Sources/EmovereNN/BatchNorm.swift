import EmovereCore
import EmovereTensor

/// Batch normalisation over the last (channel) axis: `[N, ..., C] -> [N, ..., C]`.
///
/// Training uses the batch's statistics and updates the running averages
/// (`running = momentum * running + (1 - momentum) * batch`, Keras's convention, variance unbiased
/// as Keras does); inference uses the running statistics, and its backward pass treats them as constants
/// (`dx = gamma / sqrt(runningVariance + epsilon) * dy`, for explaining predictions). Parameters `gamma`,
/// `beta`, `moving_mean`, `moving_variance`, each `[C]`.
public final class BatchNorm: Layer {
    public let momentum: Float
    public let epsilon: Float
    public private(set) var gamma: Parameter?
    public private(set) var beta: Parameter?
    public private(set) var runningMean: Parameter?
    public private(set) var runningVariance: Parameter?
    /// True once `fold()` has moved this layer's inference affine map into the preceding convolution;
    /// the layer then passes its input through unchanged.
    public private(set) var isFolded = false
    /// True when the ReLU after this layer was fused into it (see `Sequential.fuseActivations()`):
    /// the output is `max(norm(x), 0)` and the backward pass masks the gradient accordingly.
    public internal(set) var appliesReLU = false
    /// How the fused ReLU passes gradients back (see `appliesReLU`).
    public var reluBackwardRule = ReLUBackwardRule.gradient
    /// Whether the last forward pass normalised with the batch's statistics (training) or the running ones.
    private var usedBatchStatistics = false
    /// While the running statistics are re-estimated (`Model.recomputeBatchNormStatistics`): the training batches
    /// averaged into them so far, each with equal weight. nil: the exponential average of training.
    var estimatedBatches: Int?
    private var channels = 0
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var mean = Tensor(shape: [0])
    private var variance = Tensor(shape: [0])
    private var inverseStandardDeviation = Tensor(shape: [0])
    private var scale = Tensor(shape: [0])
    private var shift = Tensor(shape: [0])

    public init(momentum: Float = 0.99, epsilon: Float = 1e-3) {
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        guard let last = inputShape.last, last > 0 else {
            throw .invalidShape(layer: "BatchNorm", expected: "[..., channels]", received: inputShape)
        }
        channels = last
        gamma = Parameter(shape: [last], role: .bias, values: [Float](repeating: 1, count: last))
        beta = Parameter(shape: [last], role: .bias)
        runningMean = Parameter(shape: [last], role: .state)
        runningVariance = Parameter(shape: [last], role: .state, values: [Float](repeating: 1, count: last))
        for tensor in [\BatchNorm.mean, \.variance, \.inverseStandardDeviation, \.scale, \.shift] {
            self[keyPath: tensor] = Tensor(shape: [last])
        }
        return inputShape
    }

    /// The inference-mode map `y = x * scale + shift` per channel, then marks the layer folded.
    /// Used to merge batch norm into the convolution before it for faster inference.
    public func fold() -> (scale: [Float], shift: [Float]) {
        guard let gamma, let beta, let runningMean, let runningVariance else {
            preconditionFailure("BatchNorm folded before build")
        }
        let scale = (0..<channels).map { gamma.value[$0] / (runningVariance.value[$0] + epsilon).squareRoot() }
        let shift = (0..<channels).map { beta.value[$0] - runningMean.value[$0] * scale[$0] }
        isFolded = true
        return (scale, shift)
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        if isFolded {
            precondition(!mode.isTraining, "a model folded for inference cannot train")
            return input
        }
        guard let gamma, let beta, let runningMean, let runningVariance else {
            preconditionFailure("BatchNorm used before build")
        }
        let output = Tensor.reusing(output, shape: input.shape)
        let rows = input.count / channels
        usedBatchStatistics = mode.isTraining
        if mode.isTraining {
            Normalization.statistics(input, channels: channels, mean: mean, variance: variance)
            let unbiased = Float(rows) / Float(max(rows - 1, 1))
            // The running values' share: `momentum`, or while re-estimating n / (n + 1) (the mean of n + 1 batches).
            let kept = estimatedBatches.map { Float($0) / Float($0 + 1) } ?? momentum
            estimatedBatches = estimatedBatches.map { $0 + 1 }
            for c in 0..<channels {
                inverseStandardDeviation[c] = 1 / (variance[c] + epsilon).squareRoot()
                scale[c] = gamma.value[c] * inverseStandardDeviation[c]
                runningMean.value[c] = kept * runningMean.value[c] + (1 - kept) * mean[c]
                runningVariance.value[c] = kept * runningVariance.value[c] + (1 - kept) * variance[c] * unbiased
            }
            Normalization.normalize(input, channels: channels, mean: mean.pointer, scale: scale.pointer,
                                    shift: beta.value.pointer, relu: appliesReLU, into: output)
        } else {
            for c in 0..<channels {
                inverseStandardDeviation[c] = 1 / (runningVariance.value[c] + epsilon).squareRoot()
                scale[c] = gamma.value[c] * inverseStandardDeviation[c]
            }
            Normalization.normalize(input, channels: channels, mean: runningMean.value.pointer, scale: scale.pointer,
                                    shift: beta.value.pointer, relu: appliesReLU, into: output)
        }
        self.input = input
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let gamma, let beta, let runningMean, let input else {
            preconditionFailure("BatchNorm backward before forward")
        }
        let inputGradient = Tensor.reusing(inputGradient, shape: input.shape)
        self.inputGradient = inputGradient
        Normalization.backward(
            input: input, outputGradient: outputGradient, channels: channels,
            mean: usedBatchStatistics ? mean : runningMean.value, inverseStandardDeviation: inverseStandardDeviation,
            gamma: gamma.value, gammaGradient: gamma.gradient, betaGradient: beta.gradient, inputGradient: inputGradient,
            fusedReLU: appliesReLU ? (scale, beta.value) : nil, guidedReLU: reluBackwardRule == .guided,
            usesBatchStatistics: usedBatchStatistics)
        return needsInputGradient ? inputGradient : nil
    }

    public var namedParameters: [NamedParameter] {
        guard let gamma, let beta, let runningMean, let runningVariance else { return [] }
        return [
            NamedParameter(name: "gamma", parameter: gamma), NamedParameter(name: "beta", parameter: beta),
            NamedParameter(name: "moving_mean", parameter: runningMean),
            NamedParameter(name: "moving_variance", parameter: runningVariance),
        ]
    }
}
