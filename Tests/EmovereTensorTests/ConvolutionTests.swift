import EmovereCore
import EmovereTensor
import EmovereTestSupport
import Testing

/// `Convolution` (im2col + GEMM) against `Reference.convolutionForward/Backward`.
///
/// Tolerances: relative 1e-4, absolute 1e-4. Each output is a float32 sum of up to 5*5*16 = 400
/// products of values in [-1, 1] (gradients: up to 3*63 terms), whose rounding error stays below
/// ~1e-5; the reference sums in Double. An indexing mistake gives errors of order 1.
struct ConvolutionTests {
    static let filters = 5

    /// Runs the optimised forward and backward passes of `testCase` and returns
    /// (output, input gradient, kernel gradient, bias gradient).
    static func run(
        _ testCase: WindowCase, input: Tensor, kernel: Tensor, bias: Tensor?, outputGradient: Tensor,
        needsInputGradient: Bool = true
    ) -> (output: [Float], input: [Float]?, kernel: [Float], bias: [Float]?) {
        let g = testCase.geometry
        let k = g.taps * g.channels
        let output = garbageTensor(testCase.outputShape(channels: filters))
        Convolution.forward(input: input, kernel: kernel, bias: bias, geometry: g, output: output)

        let chunkCount = Parallel.chunks(testCase.batch).count
        let partials = garbageTensor([chunkCount, k * filters + filters])
        let kernelGradient = garbageTensor(kernel.shape)
        let biasGradient = bias == nil ? nil : garbageTensor([filters])
        let inputGradient = needsInputGradient ? garbageTensor(input.shape) : nil
        Convolution.backward(
            outputGradient: outputGradient, input: input, kernel: kernel, geometry: g,
            kernelGradient: kernelGradient, biasGradient: biasGradient, inputGradient: inputGradient,
            partials: partials)
        return (output.values, inputGradient?.values, kernelGradient.values, biasGradient?.values)
    }

    @Test(arguments: WindowCase.all)
    func matchesReference(testCase: WindowCase) {
        let g = testCase.geometry
        let input = randomTensor(testCase.inputShape, seed: 1)
        let kernel = randomTensor([g.kernelHeight, g.kernelWidth, g.channels, Self.filters], seed: 2)
        let bias = randomTensor([Self.filters], seed: 3)
        let outputGradient = randomTensor(testCase.outputShape(channels: Self.filters), seed: 4)

        let actual = Self.run(testCase, input: input, kernel: kernel, bias: bias, outputGradient: outputGradient)
        let expectedOutput = Reference.convolutionForward(
            input: input.values, kernel: kernel.values, bias: bias.values, batch: testCase.batch,
            filters: Self.filters, geometry: g)
        let expected = Reference.convolutionBackward(
            outputGradient: outputGradient.values, input: input.values, kernel: kernel.values,
            batch: testCase.batch, filters: Self.filters, geometry: g)

        #expect(closeness(actual.output, expectedOutput, absoluteTolerance: 1e-4) <= 1, "forward")
        #expect(closeness(actual.input ?? [], expected.input, absoluteTolerance: 1e-4) <= 1, "input gradient")
        #expect(closeness(actual.kernel, expected.kernel, absoluteTolerance: 1e-4) <= 1, "kernel gradient")
        #expect(closeness(actual.bias ?? [], expected.bias, absoluteTolerance: 1e-4) <= 1, "bias gradient")
    }

    /// Without a bias the output is the bare convolution, and the first layer can skip the input gradient.
    @Test(arguments: [WindowCase.all[0], WindowCase.all[13], WindowCase.all[30]])
    func withoutBiasOrInputGradient(testCase: WindowCase) {
        let g = testCase.geometry
        let input = randomTensor(testCase.inputShape, seed: 11)
        let kernel = randomTensor([g.kernelHeight, g.kernelWidth, g.channels, Self.filters], seed: 12)
        let outputGradient = randomTensor(testCase.outputShape(channels: Self.filters), seed: 13)

        let actual = Self.run(testCase, input: input, kernel: kernel, bias: nil, outputGradient: outputGradient,
                              needsInputGradient: false)
        let expectedOutput = Reference.convolutionForward(
            input: input.values, kernel: kernel.values, bias: nil, batch: testCase.batch, filters: Self.filters,
            geometry: g)
        let expected = Reference.convolutionBackward(
            outputGradient: outputGradient.values, input: input.values, kernel: kernel.values,
            batch: testCase.batch, filters: Self.filters, geometry: g)

        #expect(actual.input == nil && actual.bias == nil)
        #expect(closeness(actual.output, expectedOutput, absoluteTolerance: 1e-4) <= 1)
        #expect(closeness(actual.kernel, expected.kernel, absoluteTolerance: 1e-4) <= 1)
    }

    /// The weight-gradient kernels of every instruction set against a sum in Double: columns of `a` that are and are
    /// not a multiple of the 6- and 12-column blocks, filters from under one vector (whole-vector loads must stop
    /// before the last row's end) to past a 64-filter block, rows within one tile and across several.
    @Test(arguments: [(1, 1, 7), (130, 13, 8), (70, 72, 16), (200, 128, 64), (65, 9, 130), (129, 20, 24), (3, 5, 1)])
    func weightGradientOfEveryInstructionSetMatchesReference(rows: Int, columns: Int, filters: Int) {
        let a = randomValues(rows * columns, seed: 51)
        let dy = randomValues(rows * filters, seed: 52)
        let expected = Reference.matrixMultiply(a, dy, c: [], m: columns, n: filters, k: rows, transposeA: true,
                                                transposeB: false)
        for instructionSet in InstructionSet.available {
            // Exactly sized copies, so a read past either array's end is a fault under the address sanitizer
            // and garbage in the result otherwise.
            let out = garbageTensor([columns, filters])
            a.withUnsafeBufferPointer { aValues in
                dy.withUnsafeBufferPointer { dyValues in
                    Convolution.weightGradient(aValues.baseAddress!, dyValues.baseAddress!, rows: rows, columns: columns,
                                               filters: filters, into: out.pointer, instructionSet: instructionSet)
                }
            }
            #expect(closeness(out.values, expected, absoluteTolerance: 1e-4) <= 1,
                    "\(instructionSet) rows \(rows) columns \(columns) filters \(filters)")
        }
    }

    /// The bfloat16 weight gradient, on AVX512_BF16 and (where the CPU has them) on AMX tiles, against a sum in
    /// Double of the operands rounded to bfloat16 (products exact, only the order of the sums differs): the shapes
    /// above, and rows past several tiles whose last is short and odd (a tile's rows past the last must add nothing).
    @Test(.enabled(if: Precision.isBFloat16Supported, "the bfloat16 kernels do not run here (no AVX512_BF16, or EMOVERE_MAX_ISA)"),
          arguments: [(1, 1, 7), (130, 13, 8), (70, 72, 16), (200, 128, 64), (65, 9, 130), (129, 20, 24), (3, 5, 1),
                      (601, 40, 48), (300, 150, 33)])
    func bfloat16WeightGradientMatchesReference(rows: Int, columns: Int, filters: Int) {
        let a = randomValues(rows * columns, seed: 53)
        let dy = randomValues(rows * filters, seed: 54)
        let expected = Reference.matrixMultiply(Reference.roundedToBFloat16(a), Reference.roundedToBFloat16(dy), c: [],
                                                m: columns, n: filters, k: rows, transposeA: true, transposeB: false)
        for matrixTiles in Precision.isMatrixTilesSupported ? [false, true] : [false] {
            let out = garbageTensor([columns, filters])
            a.withUnsafeBufferPointer { aValues in
                dy.withUnsafeBufferPointer { dyValues in
                    Convolution.weightGradient(aValues.baseAddress!, dyValues.baseAddress!, rows: rows, columns: columns,
                                               filters: filters, into: out.pointer, precision: .bfloat16,
                                               matrixTiles: matrixTiles)
                }
            }
            #expect(closeness(out.values, expected, absoluteTolerance: 1e-4) <= 1,
                    "tiles \(matrixTiles) rows \(rows) columns \(columns) filters \(filters)")
        }
    }

    /// im2col of every instruction set equals a tap-by-tap copy of each window (exactly: it only moves values).
    @Test(arguments: WindowCase.all)
    func im2colOfEveryInstructionSetCopiesEachWindow(testCase: WindowCase) {
        let g = testCase.geometry
        let input = randomTensor(testCase.inputShape, seed: 61)
        let values = input.values
        var expected: [Float] = []
        for n in 0..<testCase.batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<g.kernelWidth {
                            let iy = oy * g.stride + ky - g.padTop, ix = ox * g.stride + kx - g.padLeft
                            let inFrame = iy >= 0 && iy < g.inputHeight && ix >= 0 && ix < g.inputWidth
                            for channel in 0..<g.channels {
                                expected.append(inFrame ? values[((n * g.inputHeight + iy) * g.inputWidth + ix) * g.channels + channel] : 0)
                            }
                        }
                    }
                }
            }
        }
        for instructionSet in InstructionSet.available {
            let columns = garbageTensor([testCase.batch * g.outputPixels, g.taps * g.channels])
            Convolution.im2col(input.pointer, geometry: g, outputRows: 0..<(testCase.batch * g.outputHeight),
                               into: columns.pointer, instructionSet: instructionSet)
            #expect(columns.values == expected, "\(instructionSet) \(testCase.testDescription)")
        }
    }

    /// im2col followed by col2im multiplies each input element by the number of windows that read it, on every
    /// instruction set: strided and padded windows, and overlapping stride-1 windows of whole and partial vectors.
    @Test(arguments: [WindowCase(batch: 2, height: 5, width: 6, channels: 3, kernelSize: 3, stride: 2, padding: .same),
                      WindowCase(batch: 2, height: 7, width: 9, channels: 8, kernelSize: 3, stride: 1, padding: .valid),
                      WindowCase(batch: 1, height: 6, width: 7, channels: 24, kernelSize: 3, stride: 1, padding: .same)])
    func col2imIsTheAdjointOfIm2col(testCase: WindowCase) {
        let g = testCase.geometry
        let input = Tensor(shape: testCase.inputShape, repeating: 1)
        // The same count from the reference: the input gradient of an all-ones depthwise kernel.
        let ones = [Float](repeating: 1, count: g.taps * g.channels)
        let expected = Reference.depthwiseBackward(
            outputGradient: [Float](repeating: 1, count: testCase.batch * g.outputPixels * g.channels),
            input: input.values, kernel: ones, batch: testCase.batch, geometry: g).input
        for instructionSet in InstructionSet.available {
            let columns = Tensor(shape: [testCase.batch * g.outputPixels, g.taps * g.channels])
            Convolution.im2col(input.pointer, geometry: g, outputRows: 0..<(testCase.batch * g.outputHeight),
                               into: columns.pointer, instructionSet: instructionSet)
            let coverage = Tensor(shape: testCase.inputShape)
            Convolution.col2im(columns.pointer, geometry: g, outputRows: 0..<(testCase.batch * g.outputHeight),
                               into: coverage.pointer, instructionSet: instructionSet)
            #expect(coverage.values == expected, "\(instructionSet) \(testCase.testDescription)")
        }
    }
}

/// Training's bfloat16 backward pass (`Convolution.backward` with `precision: .bfloat16`): the input gradient `dY · Wᵀ`
/// and, where `weightGradientPrecision` allows, the weight gradient `Xᵀ · dY` on the bfloat16 kernels, against the
/// reference backward pass of the rounded operands (products exact, only the order of the sums differs); a weight
/// gradient left in float32 is the float32 path's bit for bit, and the bias gradient always is.
struct BFloat16InputGradientTests {
    /// (height, width, channels, kernel size, filters, batch, stride, padding): a pointwise layer (one wide panel), a
    /// padded 3x3 of 8 channels (72 outputs per pixel; 16 filters keep its weight gradient float32), a strided 1x1
    /// shortcut, an unpadded 3x3 of 32 channels (narrow panels of 16, 16 and 8 filters), and a wide panel with a narrow
    /// one over an odd number of rows per tile.
    static let cases: [(Int, Int, Int, Int, Int, Int, Int, Padding)] = [
        (6, 7, 32, 1, 64, 2, 1, .valid), (5, 6, 8, 3, 16, 2, 1, .same), (8, 8, 48, 1, 32, 3, 2, .same),
        (7, 7, 32, 3, 40, 1, 1, .valid), (5, 7, 16, 3, 80, 3, 1, .same),
    ]

    @Test(.enabled(if: Precision.isBFloat16Supported, "the bfloat16 kernels do not run here (no AVX512_BF16, or EMOVERE_MAX_ISA)"),
          arguments: 0..<cases.count)
    func matchesReferenceOnRoundedValues(caseIndex: Int) {
        let (height, width, channels, kernelSize, filters, batch, stride, padding) = Self.cases[caseIndex]
        let g = ConvolutionGeometry(inputHeight: height, inputWidth: width, channels: channels, kernelSize: kernelSize,
                                    stride: stride, padding: padding)
        let k = g.taps * channels
        #expect(Convolution.inputGradientPrecision(.bfloat16, for: g, filters: filters) == .bfloat16)
        let roundsWeightGradient = filters >= 32 && k >= 32
        #expect(Convolution.weightGradientPrecision(.bfloat16, for: g, filters: filters)
                == (roundsWeightGradient ? .bfloat16 : .float32))
        let input = randomTensor([batch, height, width, channels], seed: 1)
        let kernel = randomTensor([kernelSize, kernelSize, channels, filters], seed: 2)
        let outputGradient = randomTensor([batch, g.outputHeight, g.outputWidth, filters], seed: 3)
        func backward(_ precision: Precision) -> (input: [Float], kernel: [Float], bias: [Float]) {
            let gradients = (input: garbageTensor(input.shape), kernel: garbageTensor(kernel.shape),
                             bias: garbageTensor([filters]))
            Convolution.backward(
                outputGradient: outputGradient, input: input, kernel: kernel, geometry: g,
                kernelGradient: gradients.kernel, biasGradient: gradients.bias, inputGradient: gradients.input,
                partials: garbageTensor([Parallel.chunks(batch).count, k * filters + filters]),
                scratch: precision == .bfloat16 ? garbageTensor([(outputGradient.count + 1) / 2]) : nil,
                precision: precision)
            return (gradients.input.values, gradients.kernel.values, gradients.bias.values)
        }
        let single = backward(.float32), halves = backward(.bfloat16)
        let rounded = Reference.convolutionBackward(
            outputGradient: Reference.roundedToBFloat16(outputGradient.values),
            input: Reference.roundedToBFloat16(input.values), kernel: Reference.roundedToBFloat16(kernel.values),
            batch: batch, filters: filters, geometry: g)
        #expect(closeness(halves.input, rounded.input, absoluteTolerance: 1e-4) <= 1, "input gradient")
        #expect(closeness(single.input, rounded.input, absoluteTolerance: 1e-4) > 1, "rounding shows in float32's terms")
        if roundsWeightGradient {
            #expect(closeness(halves.kernel, rounded.kernel, absoluteTolerance: 1e-4) <= 1, "kernel gradient")
            #expect(closeness(single.kernel, rounded.kernel, absoluteTolerance: 1e-4) > 1, "rounding shows")
        } else {
            #expect(halves.kernel == single.kernel, "a float32 weight gradient is float32's")
        }
        #expect(halves.bias == single.bias, "the bias gradient stays float32")
    }

    /// Layers the bfloat16 product does not earn or cannot run stay float32: an odd number of filters (runs read
    /// in pairs) and fewer than `bfloat16MinimumFilters` outputs per pixel.
    @Test func narrowOrOddLayersStayFloat32() {
        let pointwise = ConvolutionGeometry(inputHeight: 4, inputWidth: 4, channels: 16, kernelSize: 1, stride: 1,
                                            padding: .valid)
        #expect(Convolution.inputGradientPrecision(.bfloat16, for: pointwise, filters: 32) == .float32)
        let wide = ConvolutionGeometry(inputHeight: 4, inputWidth: 4, channels: 64, kernelSize: 1, stride: 1,
                                       padding: .valid)
        #expect(Convolution.inputGradientPrecision(.bfloat16, for: wide, filters: 7) == .float32)
        #expect(Convolution.inputGradientPrecision(.float32, for: wide, filters: 64) == .float32)
        #expect(Convolution.inputGradientPrecision(.bfloat16, for: wide, filters: 64)
                == (Precision.isBFloat16Supported ? .bfloat16 : .float32))
    }
}
