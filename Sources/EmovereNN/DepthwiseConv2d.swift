import EmovereCore
import EmovereTensor

/// A depthwise 2-D convolution (one `K x K` filter per channel, depth multiplier 1, optional bias `[C]`):
/// `[N, H, W, C] -> [N, OH, OW, C]`, kernel `[K, K, C, 1]` (Keras layout).
public final class DepthwiseConv2d: Layer {
    public let kernelSize: Int
    public let stride: Int
    public let padding: Padding
    public let usesBias: Bool
    public private(set) var kernel: Parameter?
    public private(set) var bias: Parameter?
    /// True when the layer applies ReLU to its output in the same pass (inference only, like `Conv2d.appliesReLU`).
    public let appliesReLU: Bool
    private var geometry: ConvolutionGeometry?
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var partials: Tensor?

    /// A depthwise convolution with a `kernelSize` x `kernelSize` window; with `appliesReLU` it stands for
    /// convolution + ReLU (inference only).
    public init(kernelSize: Int, stride: Int = 1, padding: Padding = .same, usesBias: Bool = false,
                appliesReLU: Bool = false) {
        precondition(kernelSize > 0 && stride > 0, "DepthwiseConv2d needs a positive kernel size and stride")
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.usesBias = usesBias
        self.appliesReLU = appliesReLU
    }

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        let g = try ConvolutionGeometry(layer: "DepthwiseConv2d", inputShape: inputShape, kernelSize: kernelSize, stride: stride,
                                        padding: padding)
        geometry = g
        kernel = Parameter(
            shape: [kernelSize, kernelSize, g.channels, 1], role: .weight,
            values: Parameter.glorotUniform(count: g.taps * g.channels, fanIn: g.taps * g.channels, fanOut: g.taps,
                                            random: &random))
        bias = usesBias ? Parameter(shape: [g.channels], role: .bias) : nil
        return [g.outputHeight, g.outputWidth, g.channels]
    }

    public var multiplyAdds: Int {
        geometry.map { $0.outputPixels * $0.taps * $0.channels } ?? 0
    }

    /// Whether the last forward pass allows a backward pass (training or differentiable inference, no fused ReLU).
    private var canGoBackward = false

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        guard let g = geometry, let kernel else { preconditionFailure("DepthwiseConv2d used before build") }
        let output = Tensor.reusing(output, shape: [input.shape[0], g.outputHeight, g.outputWidth, g.channels])
        precondition(!(appliesReLU && mode.isTraining), "a fused depthwise convolution is inference-only")
        DepthwiseConvolution.forward(input: input, kernel: kernel.value, bias: bias?.value, relu: appliesReLU,
                                     geometry: g, output: output)
        self.input = input
        self.output = output
        // A fused ReLU's mask is not kept: a fused convolution answers forward passes only.
        canGoBackward = mode.allowsBackward && !appliesReLU
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let g = geometry, let kernel, let input, canGoBackward else {
            preconditionFailure("DepthwiseConv2d backward without a forward pass that allows it")
        }
        let partials = Tensor.reusing(partials, shape: [Parallel.chunks(input.shape[0]).count, g.taps * g.channels])
        self.partials = partials
        if needsInputGradient { inputGradient = Tensor.reusing(inputGradient, shape: input.shape) }
        DepthwiseConvolution.backward(
            outputGradient: outputGradient, input: input, kernel: kernel.value, geometry: g,
            kernelGradient: kernel.gradient, inputGradient: needsInputGradient ? inputGradient : nil, partials: partials)
        if let bias {
            Elementwise.sumRows(outputGradient.pointer, rows: outputGradient.count / g.channels, columns: g.channels,
                                into: bias.gradient.pointer)
        }
        return needsInputGradient ? inputGradient : nil
    }

    public var namedParameters: [NamedParameter] {
        [kernel.map { NamedParameter(name: "kernel", parameter: $0) },
         bias.map { NamedParameter(name: "bias", parameter: $0) }].compactMap { $0 }
    }
}
