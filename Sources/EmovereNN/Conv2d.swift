import EmovereCore
import EmovereTensor

/// A 2-D convolution over NHWC input: `[N, H, W, C] -> [N, OH, OW, filters]`, kernel `[K, K, C, filters]` (HWIO).
public final class Conv2d: Layer {
    public let filters: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Padding
    public let usesBias: Bool
    public private(set) var kernel: Parameter?
    public private(set) var bias: Parameter?
    /// True when the layer applies ReLU to its output in the same pass (given at creation, or set by
    /// `Sequential.foldBatchNorms()`); inference only: a fused layer cannot train.
    public internal(set) var appliesReLU: Bool

    /// True when a global average pool follows this layer and its output pass computes the average
    /// directly (`[N, 1, 1, filters]`; set by `Sequential.foldBatchNorms()`, inference only).
    public internal(set) var averagesOutput = false
    private var geometry: ConvolutionGeometry?
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var partials: Tensor?
    /// Whether the last forward pass kept what backward needs (its input).
    private var canGoBackward = false
    /// The kernel packed for the direct path: refreshed on every pass, or made once after `freezeWeights()`.
    private var packedKernel: PackedKernel?
    /// The kernel's transpose packed for the input gradient (`Convolution.backward`) in its precision, refreshed on every
    /// pass.
    private var transposedKernel: PackedKernel?
    /// The input inside its zero frame, for the direct path of a padded convolution, then its bfloat16 copy.
    private var framedInput: Tensor?
    /// The output gradient's bfloat16 copy, for a bfloat16 input gradient.
    private var roundedGradient: Tensor?
    /// True after `freezeWeights(precision:)`.
    public private(set) var hasFrozenWeights = false
    /// The direct path's arithmetic: `float32`, or what `freezeWeights(precision:)` chose for this layer
    /// (`Convolution.directPrecision(_:for:filters:)`).
    public private(set) var precision = Precision.float32
    /// The arithmetic of training passes: with `bfloat16`, the forward products, the input gradient and the weight
    /// gradient where `Convolution.directPrecision`, `inputGradientPrecision` and `weightGradientPrecision` allow.
    /// Passes in other modes run float32 (or the frozen `precision`).
    public var trainingPrecision = Precision.float32

    /// Promises that the weights no longer change (inference only): the packed copy the direct path
    /// reads is then made once instead of on every pass, in `precision` where this CPU runs it and the layer gains
    /// by it (`Convolution.directPrecision(_:for:filters:)`), else in `float32`. `absorb(scale:shift:)` still
    /// repacks.
    public func freezeWeights(precision: Precision = .float32) {
        hasFrozenWeights = true
        packedKernel = nil
        self.precision = geometry.map { Convolution.directPrecision(precision, for: $0, filters: filters) } ?? .float32
    }

    /// A convolution with `filters` output channels and a `kernelSize` x `kernelSize` window; with `appliesReLU`
    /// it stands for convolution + ReLU (inference only, as an imported graph with a fused activation).
    public init(filters: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .valid, usesBias: Bool = true,
                appliesReLU: Bool = false) {
        precondition(filters > 0 && kernelSize > 0 && stride > 0, "Conv2d needs positive filters, kernel size, stride")
        self.filters = filters
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.usesBias = usesBias
        self.appliesReLU = appliesReLU
    }

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        let g = try ConvolutionGeometry(layer: "Conv2d", inputShape: inputShape, kernelSize: kernelSize, stride: stride,
                                        padding: padding)
        geometry = g
        let fanIn = g.taps * g.channels
        kernel = Parameter(
            shape: [kernelSize, kernelSize, g.channels, filters], role: .weight,
            values: Parameter.glorotUniform(count: fanIn * filters, fanIn: fanIn, fanOut: g.taps * filters, random: &random))
        bias = usesBias ? Parameter(shape: [filters], role: .bias) : nil
        return [g.outputHeight, g.outputWidth, filters]
    }

    public var multiplyAdds: Int {
        geometry.map { $0.outputPixels * $0.taps * $0.channels * filters } ?? 0
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        guard let g = geometry, let kernel else { preconditionFailure("Conv2d used before build") }
        let batch = input.shape[0]
        precondition(!((appliesReLU || averagesOutput || hasFrozenWeights) && mode.isTraining),
                     "a fused or frozen convolution is inference-only")
        // A fused ReLU's mask is not kept: a fused convolution answers forward passes only (explanations use the
        // unfused network).
        canGoBackward = mode.allowsBackward && !averagesOutput && !appliesReLU
        if averagesOutput {
            let output = Tensor.reusing(output, shape: [batch, 1, 1, filters])
            self.output = output
            Convolution.averagedForward(input: input, kernel: kernel.value, bias: bias?.value, geometry: g, output: output)
            return output
        }
        let output = Tensor.reusing(output, shape: [batch, g.outputHeight, g.outputWidth, filters])
        self.input = input
        self.output = output
        // Training too takes the direct path where it applies: backward makes the im2col rows it needs from the input.
        if Convolution.supportsDirectForward(g, filters: filters) {
            let passPrecision = hasFrozenWeights ? precision
                : mode.isTraining ? Convolution.directPrecision(trainingPrecision, for: g, filters: filters) : .float32
            let kept = packedKernel.flatMap { $0.precision == passPrecision ? $0 : nil }
            // Frozen kernels pair their rows where they can (`emovere_conv_paired`, faster for layers of at most half
            // a vector of filters); training keeps the plain layout and so its results of earlier builds, bit for bit.
            let packed = kept ?? PackedKernel(rows: g.taps * g.channels, filters: filters, precision: passPrecision,
                                              runLength: hasFrozenWeights ? g.kernelWidth * g.channels : nil)
            if kept == nil || !hasFrozenWeights { packed.update(from: kernel.value) }
            packedKernel = packed
            let scratchCount = Convolution.directScratchCount(g, batch: batch, precision: passPrecision)
            if scratchCount > 0 { framedInput = Tensor.reusing(framedInput, shape: [scratchCount]) }
            Convolution.directForward(input: input, kernel: packed, bias: bias?.value, geometry: g,
                                      relu: appliesReLU, output: output, scratch: scratchCount > 0 ? framedInput : nil)
            return output
        }
        Convolution.forward(input: input, kernel: kernel.value, bias: bias?.value, geometry: g, relu: appliesReLU,
                            output: output)
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let g = geometry, let kernel, let input, canGoBackward else {
            preconditionFailure("Conv2d backward without a forward pass that allows it")
        }
        let batch = input.shape[0]
        let k = g.taps * g.channels
        let partials = Tensor.reusing(partials, shape: [Parallel.chunks(batch).count, k * filters + filters])
        self.partials = partials
        var scratch: Tensor?
        if needsInputGradient {
            inputGradient = Tensor.reusing(inputGradient, shape: input.shape)
            let precision = Convolution.inputGradientPrecision(trainingPrecision, for: g, filters: filters)
            if transposedKernel?.precision != precision {
                transposedKernel = PackedKernel(rows: filters, filters: k, precision: precision)
            }
            if precision == .bfloat16 {
                scratch = Tensor.reusing(roundedGradient, shape: [(outputGradient.count + 1) / 2])
                roundedGradient = scratch
            }
        }
        Convolution.backward(
            outputGradient: outputGradient, input: input, kernel: kernel.value, geometry: g,
            kernelGradient: kernel.gradient, biasGradient: bias?.gradient,
            inputGradient: needsInputGradient ? inputGradient : nil, partials: partials,
            transposedKernel: needsInputGradient ? transposedKernel : nil, scratch: scratch,
            precision: trainingPrecision.supported)
        return needsInputGradient ? inputGradient : nil
    }

    /// Multiplies output channel `f` by `scale[f]` and adds `shift[f]` (creating a bias if needed):
    /// how a following batch norm is folded in for inference.
    public func absorb(scale: [Float], shift: [Float]) {
        guard let kernel else { preconditionFailure("Conv2d folded before build") }
        precondition(scale.count == filters && shift.count == filters, "absorb expects \(filters) channels")
        for index in 0..<kernel.value.count { kernel.value[index] *= scale[index % filters] }
        let folded = Parameter(shape: [filters], role: .bias)
        for f in 0..<filters { folded.value[f] = (bias?.value[f] ?? 0) * scale[f] + shift[f] }
        bias = folded
        packedKernel = nil
    }

    public var namedParameters: [NamedParameter] {
        [kernel.map { NamedParameter(name: "kernel", parameter: $0) },
         bias.map { NamedParameter(name: "bias", parameter: $0) }].compactMap { $0 }
    }
}
