import EmovereCore
import EmovereTensor
import EmovereTestSupport
import Testing

/// `DepthwiseConvolution` (SIMD8 when channels are a multiple of 8, scalar otherwise; the 3x3 stride-1 rows with
/// each instruction set's kernel this CPU runs) against `Reference.depthwiseForward/Backward`.
///
/// Tolerances: relative 1e-4, absolute 1e-5 for the forward pass and input gradient (at most 25
/// products per output), absolute 1e-4 for the kernel gradient (sums of up to 3*63 products).
struct DepthwiseTests {
    @Test(arguments: WindowCase.all)
    func matchesReference(testCase: WindowCase) {
        let g = testCase.geometry
        let input = randomTensor(testCase.inputShape, seed: 21)
        let kernel = randomTensor([g.kernelHeight, g.kernelWidth, g.channels], seed: 22)
        let outputGradient = randomTensor(testCase.outputShape(channels: g.channels), seed: 23)

        let output = garbageTensor(testCase.outputShape(channels: g.channels))
        DepthwiseConvolution.forward(input: input, kernel: kernel, geometry: g, output: output)
        let kernelGradient = garbageTensor(kernel.shape)
        let inputGradient = garbageTensor(input.shape)
        let partials = garbageTensor([Parallel.chunks(testCase.batch).count, kernel.count])
        DepthwiseConvolution.backward(
            outputGradient: outputGradient, input: input, kernel: kernel, geometry: g,
            kernelGradient: kernelGradient, inputGradient: inputGradient, partials: partials)

        let expectedOutput = Reference.depthwiseForward(
            input: input.values, kernel: kernel.values, batch: testCase.batch, geometry: g)
        let expected = Reference.depthwiseBackward(
            outputGradient: outputGradient.values, input: input.values, kernel: kernel.values,
            batch: testCase.batch, geometry: g)
        #expect(closeness(output.values, expectedOutput) <= 1, "forward")
        #expect(closeness(inputGradient.values, expected.input) <= 1, "input gradient")
        #expect(closeness(kernelGradient.values, expected.kernel, absoluteTolerance: 1e-4) <= 1, "kernel gradient")
    }

    /// The fused epilogue: bias per channel, then ReLU, on every band of rows.
    @Test(arguments: WindowCase.all)
    func biasAndReLUEpilogueMatchesReference(testCase: WindowCase) {
        let g = testCase.geometry
        let input = randomTensor(testCase.inputShape, seed: 31)
        let kernel = randomTensor([g.kernelHeight, g.kernelWidth, g.channels], seed: 32)
        let bias = randomTensor([g.channels], seed: 33)
        let output = garbageTensor(testCase.outputShape(channels: g.channels))
        DepthwiseConvolution.forward(input: input, kernel: kernel, bias: bias, relu: true, geometry: g, output: output)
        let plain = Reference.depthwiseForward(input: input.values, kernel: kernel.values, batch: testCase.batch, geometry: g)
        let expected = plain.enumerated().map { index, value in max(value + bias[index % g.channels], 0) }
        #expect(closeness(output.values, expected) <= 1)
    }

    /// The 3x3 stride-1 row kernel of every instruction set this CPU runs, with channel counts below, equal to and
    /// past a whole number of vectors (4, 8 or 16 floats; 8 on AVX-512 is half a vector, two pixels per vector),
    /// rows of fewer than four interior pixels, and the epilogue.
    @Test(arguments: [8, 16, 24, 48])
    func rowKernelOfEveryInstructionSetMatchesReference(channels: Int) {
        for (height, width, padding) in [(5, 11, Padding.same), (4, 5, .valid), (3, 3, .same)] {
            let testCase = WindowCase(batch: 2, height: height, width: width, channels: channels, kernelSize: 3, stride: 1,
                                      padding: padding)
            let g = testCase.geometry
            let input = randomTensor(testCase.inputShape, seed: 41)
            let kernel = randomTensor([3, 3, channels], seed: 42)
            let bias = randomTensor([channels], seed: 43)
            let plain = Reference.depthwiseForward(input: input.values, kernel: kernel.values, batch: 2, geometry: g)
            let activated = plain.enumerated().map { index, value in max(value + bias[index % channels], 0) }
            for instructionSet in InstructionSet.available {
                let output = garbageTensor(testCase.outputShape(channels: channels))
                DepthwiseConvolution.forward(input: input, kernel: kernel, geometry: g, output: output,
                                             instructionSet: instructionSet)
                #expect(closeness(output.values, plain) <= 1, "\(instructionSet) \(testCase.testDescription)")
                DepthwiseConvolution.forward(input: input, kernel: kernel, bias: bias, relu: true, geometry: g,
                                             output: output, instructionSet: instructionSet)
                #expect(closeness(output.values, activated) <= 1, "\(instructionSet) epilogue \(testCase.testDescription)")
            }
        }
    }

    /// The 3x3 same-padded backward pass (the row kernels for both gradients) of every instruction set this CPU
    /// runs: channels below, equal to and past a vector, rows with and without interior pixels.
    @Test(arguments: [8, 16, 24, 48])
    func sameBackwardOfEveryInstructionSetMatchesReference(channels: Int) {
        for (height, width) in [(5, 11), (4, 7), (3, 3), (2, 2), (1, 4)] {
            let testCase = WindowCase(batch: 2, height: height, width: width, channels: channels, kernelSize: 3, stride: 1,
                                      padding: .same)
            let g = testCase.geometry
            let input = randomTensor(testCase.inputShape, seed: 44)
            let kernel = randomTensor([3, 3, channels], seed: 45)
            let outputGradient = randomTensor(testCase.outputShape(channels: channels), seed: 46)
            let expected = Reference.depthwiseBackward(
                outputGradient: outputGradient.values, input: input.values, kernel: kernel.values, batch: 2, geometry: g)
            for instructionSet in InstructionSet.available {
                let kernelGradient = garbageTensor(kernel.shape)
                let inputGradient = garbageTensor(input.shape)
                DepthwiseConvolution.backward(
                    outputGradient: outputGradient, input: input, kernel: kernel, geometry: g,
                    kernelGradient: kernelGradient, inputGradient: inputGradient,
                    partials: Tensor(shape: [Parallel.chunks(testCase.batch).count, kernel.count]),
                    instructionSet: instructionSet)
                #expect(closeness(kernelGradient.values, expected.kernel, absoluteTolerance: 1e-4) <= 1,
                        "\(instructionSet) kernel \(testCase.testDescription)")
                #expect(closeness(inputGradient.values, expected.input, absoluteTolerance: 1e-4) <= 1,
                        "\(instructionSet) input \(testCase.testDescription)")
            }
        }
    }

    /// The first layer skips the input gradient; the kernel gradient must not change.
    @Test(arguments: [WindowCase.all[1], WindowCase.all[16]])
    func withoutInputGradient(testCase: WindowCase) {
        let g = testCase.geometry
        let input = randomTensor(testCase.inputShape, seed: 24)
        let kernel = randomTensor([g.kernelHeight, g.kernelWidth, g.channels], seed: 25)
        let outputGradient = randomTensor(testCase.outputShape(channels: g.channels), seed: 26)
        let kernelGradient = garbageTensor(kernel.shape)
        DepthwiseConvolution.backward(
            outputGradient: outputGradient, input: input, kernel: kernel, geometry: g,
            kernelGradient: kernelGradient, inputGradient: nil,
            partials: Tensor(shape: [Parallel.chunks(testCase.batch).count, kernel.count]))
        let expected = Reference.depthwiseBackward(
            outputGradient: outputGradient.values, input: input.values, kernel: kernel.values,
            batch: testCase.batch, geometry: g)
        #expect(closeness(kernelGradient.values, expected.kernel, absoluteTolerance: 1e-4) <= 1)
    }
}
