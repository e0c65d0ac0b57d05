@testable import EmovereTensor
import EmovereTestSupport
import Testing

/// `Convolution.directForward` (small windows without im2col), with each instruction set's microkernels this CPU
/// runs, against `Reference.convolutionForward`, and the fused bias + ReLU epilogue of both forward paths.
///
/// Tolerances as in `ConvolutionTests`: relative 1e-4, absolute 1e-4.
struct DirectConvolutionTests {
    /// (height, width, channels, kernel size, filters, batch, stride, padding): mini-Xception's stem at 48x48,
    /// odd sizes, 16 filters, stride 2 (its 1x1 shortcuts), blocks of 12 pixels that cross rows and images,
    /// wide and narrow filter panels together (64/16, 16/8 or 8/4 filters by instruction set), filter counts that are
    /// not multiples of a vector (its 7-class head),
    /// "same" padding (windows that cross the border: the input is framed in zeros into garbage-filled scratch)
    /// and the widest window taken (3x3x128). Each kernel is packed plainly and, where its runs (`KW * C`) are even,
    /// with its panels of at most half a vector of filters in row pairs (`emovere_conv_paired`).
    static let cases: [(Int, Int, Int, Int, Int, Int, Int, Padding)] = [
        (48, 48, 1, 3, 8, 1, 1, .valid), (46, 46, 8, 3, 8, 2, 1, .valid), (7, 9, 3, 3, 8, 3, 1, .valid),
        (6, 7, 2, 2, 16, 1, 1, .valid), (5, 6, 8, 1, 8, 2, 1, .valid),
        (44, 44, 8, 1, 16, 2, 2, .same), (11, 11, 32, 1, 64, 1, 2, .same), (9, 11, 4, 3, 8, 2, 2, .valid),
        (6, 6, 64, 1, 128, 3, 1, .valid), (5, 7, 3, 3, 24, 2, 1, .valid), (3, 3, 7, 1, 40, 1, 1, .valid),
        (3, 3, 128, 3, 7, 2, 1, .same), (5, 6, 4, 3, 13, 3, 1, .same), (7, 7, 2, 3, 3, 1, 2, .same),
        (9, 8, 5, 5, 20, 2, 2, .same),
        // A few blocks and many filters: the filters are split into groups over the workers.
        (6, 6, 64, 1, 128, 1, 1, .valid), (3, 3, 16, 1, 56, 1, 1, .valid), (3, 3, 32, 3, 63, 1, 1, .same),
        // Wide panels, then narrow ones and a padded one on every set; tiles of 16 blocks, the last one short.
        (3, 3, 16, 1, 100, 1, 1, .valid), (20, 21, 8, 3, 80, 2, 1, .same), (24, 24, 16, 1, 72, 1, 1, .valid),
        // Batch 1 with too few tiles and panels for the workers (the wide-xception stem's one panel of 64 filters on
        // AVX-512; 8 filters are one panel on every set): tiles of fewer than 16 blocks.
        (24, 24, 8, 3, 64, 1, 1, .same), (24, 24, 8, 3, 8, 1, 1, .same),
        // The widest window, 3x3x128, on a wide panel: more window values than AMX tiles gather at once (1,024); and
        // 3x3x32 windows 12 to a row, which AMX tiles read in place (runs of 96 values, equally far apart); and a
        // flat 35-pixel matrix, read in place too, whose last block holds 11 pixels.
        (4, 5, 128, 3, 64, 2, 1, .same), (4, 24, 32, 3, 64, 1, 1, .same), (5, 7, 64, 1, 64, 1, 1, .valid),
        // Symmetric padding (ONNX graphs) at stride 2: the frame is cut where the windows stop.
        (8, 8, 3, 3, 16, 1, 2, .symmetric), (7, 9, 2, 3, 20, 2, 2, .symmetric),
        // Two filters: a panel packed in row pairs on every set (at most half a vector of filters, even runs).
        (6, 5, 4, 3, 2, 2, 1, .same),
        // One channel at stride 1 (`emovere_conv_single_channel`, rows per call): pixel pairs for at most half a
        // vector of filters (2 on every set, 3 on AVX2 and AVX-512) with an odd last pixel (rows of 7), whole and
        // partial vectors of filters, wide panels (32), a 5x5 window, padding (framed) and batches.
        (7, 9, 1, 3, 3, 2, 1, .valid), (6, 6, 1, 3, 2, 3, 1, .valid), (9, 10, 1, 3, 32, 2, 1, .same),
        (8, 11, 1, 5, 20, 1, 1, .same), (5, 21, 1, 3, 12, 1, 1, .same),
    ]

    @Test(arguments: 0..<cases.count)
    func matchesReference(caseIndex: Int) {
        let (height, width, channels, kernelSize, filters, batch, stride, padding) = Self.cases[caseIndex]
        let g = ConvolutionGeometry(inputHeight: height, inputWidth: width, channels: channels, kernelSize: kernelSize,
                                    stride: stride, padding: padding)
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
            let target = relu ? expected.map { max($0, 0) } : expected
            for instructionSet in InstructionSet.available {
                for runLength in [nil, kernelSize * channels] {
                    let packed = PackedKernel(kernel, instructionSet: instructionSet, runLength: runLength)
                    // The last panel's filters (a whole wide panel counts as `lanes`): only it can be narrower.
                    let lastPanel = (filters - 1) % instructionSet.wideFilters % instructionSet.lanes + 1
                    #expect(packed.hasPairedPanels
                            == (runLength.map { $0 % 2 == 0 } == true && lastPanel <= instructionSet.lanes / 2))
                    let output = garbageTensor([batch, g.outputHeight, g.outputWidth, filters])
                    let scratchCount = Convolution.directScratchCount(g, batch: batch)
                    Convolution.directForward(input: input, kernel: packed, bias: bias, geometry: g, relu: relu,
                                              output: output,
                                              scratch: scratchCount > 0 ? garbageTensor([scratchCount]) : nil)
                    #expect(closeness(output.values, target, absoluteTolerance: 1e-4) <= 1,
                            "\(instructionSet), relu \(relu), paired \(packed.hasPairedPanels)")
                }
            }
            let viaGEMM = garbageTensor([batch, g.outputHeight, g.outputWidth, filters])
            Convolution.forward(input: input, kernel: kernel, bias: bias, geometry: g, relu: relu, output: viaGEMM)
            #expect(closeness(viaGEMM.values, target, absoluteTolerance: 1e-4) <= 1, "GEMM path, relu \(relu)")
        }
    }

    /// An empty batch (an evaluation of an empty split, an imported graph's valid window larger than its input) has no
    /// output pixel: nothing is split among the workers (the tile count divided by zero).
    @Test func anEmptyBatchIsNoWork() {
        let g = ConvolutionGeometry(inputHeight: 5, inputWidth: 6, channels: 4, kernelSize: 3, stride: 1, padding: .same)
        let kernel = Tensor(shape: [3, 3, 4, 8], values: randomValues(g.taps * 4 * 8, seed: 2))
        for instructionSet in InstructionSet.available {
            let output = Tensor(shape: [0, 5, 6, 8], values: [])
            let scratchCount = Convolution.directScratchCount(g, batch: 0)
            Convolution.directForward(input: Tensor(shape: [0, 5, 6, 4], values: []),
                                      kernel: PackedKernel(kernel, instructionSet: instructionSet), bias: nil,
                                      geometry: g, relu: false, output: output,
                                      scratch: scratchCount > 0 ? garbageTensor([scratchCount]) : nil)
            #expect(output.count == 0, "\(instructionSet)")
        }
    }

    /// The bfloat16 kernels (AVX512_BF16, and AMX tiles where the CPU has them) against the reference convolution of
    /// the input and weights rounded to bfloat16 by `Reference.bfloat16Bits`: the products are exact, so only the order
    /// of the sums differs. Every case whose window runs (`KW * C`) have an even length; the others are refused.
    @Test(.enabled(if: Precision.isBFloat16Supported, "the bfloat16 kernels do not run here (no AVX512_BF16, or EMOVERE_MAX_ISA)"), arguments: 0..<cases.count)
    func bfloat16MatchesReferenceOnRoundedValues(caseIndex: Int) {
        let (height, width, channels, kernelSize, filters, batch, stride, padding) = Self.cases[caseIndex]
        let g = ConvolutionGeometry(inputHeight: height, inputWidth: width, channels: channels, kernelSize: kernelSize,
                                    stride: stride, padding: padding)
        let even = (kernelSize * channels) % 2 == 0
        #expect(Convolution.supportsDirectForward(g, precision: .bfloat16) == even)
        guard even else { return }
        let inputValues = randomValues(batch * g.inputSize, seed: 1)
        let kernelValues = randomValues(g.taps * channels * filters, seed: 2)
        let biasValues = randomValues(filters, seed: 3)
        let expected = Reference.convolutionForward(input: Reference.roundedToBFloat16(inputValues),
                                                    kernel: Reference.roundedToBFloat16(kernelValues),
                                                    bias: biasValues, batch: batch, filters: filters, geometry: g)
        // AVX512_BF16, and AMX tiles where the CPU has them.
        for matrixTiles in Precision.isMatrixTilesSupported ? [false, true] : [false] {
            let kernel = PackedKernel(Tensor(shape: [kernelSize, kernelSize, channels, filters], values: kernelValues),
                                      instructionSet: .avx512, precision: .bfloat16, matrixTiles: matrixTiles)
            for relu in [false, true] {
                let output = garbageTensor([batch, g.outputHeight, g.outputWidth, filters])
                let scratchCount = Convolution.directScratchCount(g, batch: batch, precision: .bfloat16)
                Convolution.directForward(input: Tensor(shape: [batch, height, width, channels], values: inputValues),
                                          kernel: kernel, bias: Tensor(shape: [filters], values: biasValues),
                                          geometry: g, relu: relu, output: output,
                                          scratch: garbageTensor([scratchCount]))
                let target = relu ? expected.map { max($0, 0) } : expected
                #expect(closeness(output.values, target, absoluteTolerance: 1e-4) <= 1,
                        "relu \(relu), tiles \(matrixTiles)")
            }
        }
    }

    /// `emovere_to_bfloat16` (whole vectors and a tail) rounds as `Reference.bfloat16Bits`: to nearest, ties to even,
    /// on values drawn at random and on exact ties.
    @Test(.enabled(if: Precision.isBFloat16Supported, "the bfloat16 kernels do not run here (no AVX512_BF16, or EMOVERE_MAX_ISA)"))
    func bfloat16RoundingMatchesReference() {
        var values = randomValues(1_000, seed: 4).map { $0 * 1_000 }
        values += [1 + 0x1p-8, 1 + 0x3p-8, -(1 + 0x1p-8), 3 + 0x1p-7, 0, -0, 65_504, 1e30]
        let scratch = garbageTensor([(values.count + 1) / 2])
        let halves = values.withUnsafeBufferPointer {
            Convolution.roundedCopy(of: $0.baseAddress!, count: values.count, into: scratch.pointer)
        }
        let rounded = (0..<values.count).map { halves[$0] }
        #expect(rounded == values.map(Reference.bfloat16Bits))
        #expect(Reference.bfloat16Bits(1 + 0x1p-8) == 0x3F80 && Reference.bfloat16Bits(1 + 0x3p-8) == 0x3F82)
    }

    @Test func windowsWiderThan3x3x128AreLeftToTheGEMMPath() {
        let widest = ConvolutionGeometry(inputHeight: 8, inputWidth: 8, channels: 128, kernelSize: 3, stride: 1, padding: .same)
        let wider = ConvolutionGeometry(inputHeight: 8, inputWidth: 8, channels: 129, kernelSize: 3, stride: 1, padding: .same)
        #expect(Convolution.supportsDirectForward(widest, filters: 7))
        #expect(!Convolution.supportsDirectForward(wider, filters: 8))
    }

    /// Convolution + global average pooling as one product (the mini-Xception head) against the
    /// reference convolution averaged over output pixels.
    @Test(arguments: [(3, 3, 128, 3, 7, 2, 1, Padding.same), (5, 6, 4, 3, 9, 3, 2, .same), (6, 5, 3, 3, 8, 1, 1, .valid)])
    func averagedForwardMatchesReference(testCase: (Int, Int, Int, Int, Int, Int, Int, Padding)) {
        let (height, width, channels, kernelSize, filters, batch, stride, padding) = testCase
        let g = ConvolutionGeometry(inputHeight: height, inputWidth: width, channels: channels, kernelSize: kernelSize,
                                    stride: stride, padding: padding)
        let inputValues = randomValues(batch * g.inputSize, seed: 4)
        let kernelValues = randomValues(g.taps * channels * filters, seed: 5)
        let biasValues = randomValues(filters, seed: 6)
        let convolution = Reference.convolutionForward(input: inputValues, kernel: kernelValues, bias: biasValues,
                                                       batch: batch, filters: filters, geometry: g)
        var expected = [Float](repeating: 0, count: batch * filters)
        for n in 0..<batch {
            for pixel in 0..<g.outputPixels {
                for f in 0..<filters {
                    expected[n * filters + f] += convolution[(n * g.outputPixels + pixel) * filters + f] / Float(g.outputPixels)
                }
            }
        }
        let output = garbageTensor([batch, filters])
        Convolution.averagedForward(
            input: Tensor(shape: [batch, height, width, channels], values: inputValues),
            kernel: Tensor(shape: [kernelSize, kernelSize, channels, filters], values: kernelValues),
            bias: Tensor(shape: [filters], values: biasValues), geometry: g, output: output)
        #expect(closeness(output.values, expected, absoluteTolerance: 1e-4) <= 1)
    }
}
