import EmovereCore
import EmovereTensor

/// Max or average pooling over a square window: `[N, H, W, C] -> [N, OH, OW, C]`.
public final class Pool2d: Layer {
    /// How a window is reduced.
    public enum Reduction: String, Sendable, Codable {
        case maximum, average
    }

    public let reduction: Reduction
    public let poolSize: Int
    public let stride: Int
    public let padding: Padding
    private var geometry: ConvolutionGeometry?
    private var output: Tensor?
    private var indices: Tensor?
    /// Whether the last forward pass recorded `indices` (it allowed a backward pass).
    private var hasCurrentIndices = false
    private var inputShape: [Int] = []
    private var inputGradient: Tensor?

    public init(_ reduction: Reduction, poolSize: Int, stride: Int? = nil, padding: Padding = .valid) {
        precondition(poolSize > 0, "pool size must be positive")
        self.reduction = reduction
        self.poolSize = poolSize
        self.stride = stride ?? poolSize
        self.padding = padding
    }

    /// Max pooling (Keras `MaxPooling2D`).
    public static func max(poolSize: Int, stride: Int? = nil, padding: Padding = .valid) -> Pool2d {
        Pool2d(.maximum, poolSize: poolSize, stride: stride, padding: padding)
    }

    /// Average pooling (Keras `AveragePooling2D`).
    public static func average(poolSize: Int, stride: Int? = nil, padding: Padding = .valid) -> Pool2d {
        Pool2d(.average, poolSize: poolSize, stride: stride, padding: padding)
    }

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        let g = try ConvolutionGeometry(layer: "Pool2d", inputShape: inputShape, kernelSize: poolSize, stride: stride,
                                        padding: padding)
        geometry = g
        return [g.outputHeight, g.outputWidth, g.channels]
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        guard let g = geometry else { preconditionFailure("Pool2d used before build") }
        let output = Tensor.reusing(output, shape: [input.shape[0], g.outputHeight, g.outputWidth, g.channels])
        switch reduction {
        case .maximum:
            hasCurrentIndices = mode.allowsBackward
            if mode.allowsBackward {
                let indices = Tensor.reusing(indices, shape: output.shape)
                Pooling.maxForward(input: input, geometry: g, output: output, indices: indices)
                self.indices = indices
            } else {
                Pooling.maxForward(input: input, geometry: g, output: output, indices: nil)
            }
        case .average:
            Pooling.averageForward(input: input, geometry: g, output: output)
        }
        inputShape = input.shape
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient, let g = geometry else { return nil }
        let inputGradient = Tensor.reusing(inputGradient, shape: inputShape)
        switch reduction {
        case .maximum:
            guard let indices, hasCurrentIndices else {
                preconditionFailure("Pool2d backward without a forward pass that allows it")
            }
            Pooling.maxBackward(outputGradient: outputGradient, indices: indices, geometry: g,
                                inputGradient: inputGradient)
        case .average:
            Pooling.averageBackward(outputGradient: outputGradient, geometry: g, inputGradient: inputGradient)
        }
        self.inputGradient = inputGradient
        return inputGradient
    }
}

/// Global average pooling: `[N, H, W, C] -> [N, C]`.
public final class GlobalAveragePool2d: Layer {
    private var inputShape: [Int] = []
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init() {}

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        guard inputShape.count == 3 else {
            throw .invalidShape(layer: "GlobalAveragePool2d", expected: "[height, width, channels]", received: inputShape)
        }
        return [inputShape[2]]
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        let output = Tensor.reusing(output, shape: [input.shape[0], input.shape[input.shape.count - 1]])
        Pooling.globalAverageForward(input: input, output: output)
        inputShape = input.shape
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        let inputGradient = Tensor.reusing(inputGradient, shape: inputShape)
        Pooling.globalAverageBackward(outputGradient: outputGradient, inputGradient: inputGradient)
        self.inputGradient = inputGradient
        return inputGradient
    }
}
