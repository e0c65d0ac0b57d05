import EmovereCore
@testable import EmovereNN
import EmovereTensor
import EmovereTestSupport
import Testing

/// `Conv2d.trainingPrecision`: a training pass in bfloat16 is the reference convolution of the rounded input and
/// weights, its input and weight gradients the reference products of the rounded operands, while passes in other
/// modes stay float32.
struct TrainingPrecisionTests {
    @Test(.enabled(if: Precision.isBFloat16Supported, "the bfloat16 kernels do not run here (no AVX512_BF16, or EMOVERE_MAX_ISA)"),
          arguments: [(1, Padding.valid, 1), (3, .same, 1), (1, .same, 2)])
    func bfloat16TrainingPassMatchesReferenceOnRoundedValues(layer: (kernelSize: Int, padding: Padding, stride: Int)) throws {
        let (batch, side, channels, filters) = (2, 6, 32, 48)
        let convolution = Conv2d(filters: filters, kernelSize: layer.kernelSize, stride: layer.stride,
                                 padding: layer.padding)
        var random = SplitMix64(seed: 3)
        _ = try convolution.build(inputShape: [side, side, channels], random: &random)
        let kernel = try #require(convolution.kernel), bias = try #require(convolution.bias)
        bias.value.pointer.update(from: randomValues(filters, seed: 4), count: filters)
        convolution.trainingPrecision = .bfloat16
        let g = ConvolutionGeometry(inputHeight: side, inputWidth: side, channels: channels,
                                    kernelSize: layer.kernelSize, stride: layer.stride, padding: layer.padding)
        let input = Tensor(shape: [batch, side, side, channels], values: randomValues(batch * g.inputSize, seed: 5))
        func reference(rounded: Bool) -> [Float] {
            Reference.convolutionForward(
                input: rounded ? Reference.roundedToBFloat16(input.values) : input.values,
                kernel: rounded ? Reference.roundedToBFloat16(kernel.value.values) : kernel.value.values,
                bias: bias.value.values, batch: batch, filters: filters, geometry: g)
        }
        let trained = convolution.forward(input, mode: ForwardMode(isTraining: true)).values
        #expect(closeness(trained, reference(rounded: true), absoluteTolerance: 1e-4) <= 1, "training pass")
        #expect(closeness(trained, reference(rounded: false), absoluteTolerance: 1e-4) > 1, "rounded, not float32")

        let outputGradient = Tensor(shape: [batch, g.outputHeight, g.outputWidth, filters],
                                    values: randomValues(batch * g.outputPixels * filters, seed: 6))
        let inputGradient = try #require(convolution.backward(outputGradient, needsInputGradient: true)).values
        let expected = Reference.convolutionBackward(
            outputGradient: Reference.roundedToBFloat16(outputGradient.values),
            input: Reference.roundedToBFloat16(input.values), kernel: Reference.roundedToBFloat16(kernel.value.values),
            batch: batch, filters: filters, geometry: g)
        #expect(closeness(inputGradient, expected.input, absoluteTolerance: 1e-4) <= 1, "input gradient")
        #expect(closeness(kernel.gradient.values, expected.kernel, absoluteTolerance: 1e-4) <= 1, "kernel gradient")

        // Validation and inference passes of the trainable layer stay float32.
        let inferred = convolution.forward(input, mode: .inference).values
        #expect(closeness(inferred, reference(rounded: false), absoluteTolerance: 1e-4) <= 1, "inference pass")
    }

    /// `setTrainingPrecision` reaches every dense convolution, separable convolutions' pointwise halves included.
    @Test func settingTheTrainingPrecisionReachesEveryConvolution() throws {
        let model = try Model(architecture: Architecture(name: "wide-xception", inputSize: 48))
        model.network.setTrainingPrecision(.bfloat16)
        let convolutions = model.network.nestedLayers.compactMap { ($0 as? Conv2d) ?? ($0 as? SeparableConv2d)?.pointwise }
        #expect(convolutions.count == 11 && convolutions.allSatisfy { $0.trainingPrecision == .bfloat16 })
        model.network.setTrainingPrecision(.float32)
        #expect(convolutions.allSatisfy { $0.trainingPrecision == .float32 })
    }
}
