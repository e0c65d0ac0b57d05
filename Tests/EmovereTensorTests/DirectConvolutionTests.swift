import EmovereTensor
import EmovereTestSupport
import Testing

/// `Convolution.directForward` (small windows without im2col) against `Reference.convolutionForward`,
/// and the fused bias + ReLU epilogue of both forward paths.
///
/// Tolerances as in `ConvolutionTests`: relative 1e-4, absolute 1e-4.
struct DirectConvolutionTests {
    /// (height, width, channels, kernel size, filters, batch, stride): mini-Xception's two stem convolutions
    /// at 48x48, odd sizes, a width that leaves 1-3 pixels after the groups of four, 16 filters, stride 2.
    static let cases: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (48, 48, 1, 3, 8, 1, 1), (46, 46, 8, 3, 8, 2, 1), (7, 9, 3, 3, 8, 3, 1), (6, 7, 2, 2, 16, 1, 1),
        (5, 6, 8, 1, 8, 2, 1),
        // Stride 2: mini-Xception's 1x1 shortcuts ("same" padding needs none there), and a 3x3 window.
        (44, 44, 8, 1, 16, 2, 2), (11, 11, 32, 1, 64, 1, 2), (9, 11, 4, 3, 8, 2, 2),
    ]

    @Test(arguments: 0..<cases.count)
    func matchesReference(caseIndex: Int) {
        let (height, width, channels, kernelSize, filters, batch, stride) = Self.cases[caseIndex]
        let g = ConvolutionGeometry(inputHeight: height, inputWidth: width, channels: channels, kernelSize: kernelSize,
                                    stride: stride, padding: kernelSize == 1 ? .same : .valid)
        #expect(Convolution.supportsDirectForward(g, filters: filters))
        let inputValues = randomValues(batch * g.inputSize, seed: 1)
        let kernelValues = randomValues(g.taps * channels * filters, seed: 2)
        let biasValues = randomValues(filters, seed: 3)
        let input = Tensor(shape: [batch, height, width, channels], values: inputValues)
        let kernel = Tensor(shape: [kernelSize, kernelSize, channels, filters], values: kernelValues)
        let bias = Tensor(shape: [filters], values: biasValues)
        let expected = Reference.convolutionForward(input: inputValues, kernel: kernelValues, bias: biasValues,
                                                    batch: batch, filters: filters, geometry: g)
        for relu in [false, true] {
            let output = garbageTensor([batch, g.outputHeight, g.outputWidth, filters])
            Convolution.directForward(input: input, kernel: kernel, bias: bias, geometry: g, relu: relu, output: output)
            let target = relu ? expected.map { max($0, 0) } : expected
            #expect(closeness(output.values, target, absoluteTolerance: 1e-4) <= 1, "relu \(relu)")
            let viaGEMM = garbageTensor(output.shape)
            let columns = g.isPointwise ? nil : garbageTensor([batch * g.outputPixels, g.taps * channels])
            Convolution.forward(input: input, kernel: kernel, bias: bias, geometry: g, columns: columns, relu: relu,
                                output: viaGEMM)
            #expect(closeness(viaGEMM.values, target, absoluteTolerance: 1e-4) <= 1, "GEMM path, relu \(relu)")
        }
    }

    @Test func padsAndStridesAreLeftToTheGEMMPath() {
        let same = ConvolutionGeometry(inputHeight: 8, inputWidth: 8, channels: 8, kernelSize: 3, stride: 1, padding: .same)
        let strided = ConvolutionGeometry(inputHeight: 8, inputWidth: 8, channels: 8, kernelSize: 3, stride: 2, padding: .same)
        let wide = ConvolutionGeometry(inputHeight: 8, inputWidth: 8, channels: 32, kernelSize: 3, stride: 1, padding: .valid)
        #expect(!Convolution.supportsDirectForward(same, filters: 8))
        #expect(!Convolution.supportsDirectForward(strided, filters: 8))
        #expect(!Convolution.supportsDirectForward(wide, filters: 8))
        #expect(!Convolution.supportsDirectForward(
            ConvolutionGeometry(inputHeight: 8, inputWidth: 8, channels: 1, kernelSize: 3, stride: 1, padding: .valid),
            filters: 7))
    }
}
