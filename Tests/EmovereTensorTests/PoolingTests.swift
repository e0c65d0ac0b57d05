import EmovereTensor
import EmovereTestSupport
import Testing

/// `Pooling` (max, average, global average) against the `Reference` pooling twins.
///
/// Max pooling copies values, so it must match exactly; average pooling divides sums of at most
/// 25 values, compared with relative 1e-4 and absolute 1e-5.
struct PoolingTests {
    /// Channel counts that leave a remainder after whole vectors on every instruction set (and the padded and
    /// unpadded windows of mini-Xception's pooling).
    static let vectorAndTailCases = [20, 36].flatMap { channels in
        Padding.allCases.map { WindowCase(batch: 2, height: 7, width: 9, channels: channels, kernelSize: 3, stride: 2, padding: $0) }
    }

    @Test(arguments: WindowCase.all + vectorAndTailCases)
    func maxPoolMatchesReference(testCase: WindowCase) {
        let g = testCase.geometry
        let input = randomTensor(testCase.inputShape, seed: 31)
        let outputGradient = randomTensor(testCase.outputShape(channels: g.channels), seed: 32)
        let expectedOutput = Reference.maxPoolForward(input: input.values, batch: testCase.batch, geometry: g)
        let expectedGradient = Reference.maxPoolBackward(
            outputGradient: outputGradient.values, input: input.values, batch: testCase.batch, geometry: g)
        for instructionSet in InstructionSet.available {
            let output = garbageTensor(testCase.outputShape(channels: g.channels))
            let indices = garbageTensor(output.shape)
            Pooling.maxForward(input: input, geometry: g, output: output, indices: indices, instructionSet: instructionSet)
            let inputGradient = garbageTensor(input.shape)
            Pooling.maxBackward(outputGradient: outputGradient, indices: indices, geometry: g, inputGradient: inputGradient)
            #expect(output.values == expectedOutput, "\(instructionSet)")
            // Inference keeps no indices.
            let inferenceOutput = garbageTensor(output.shape)
            Pooling.maxForward(input: input, geometry: g, output: inferenceOutput, indices: nil, instructionSet: instructionSet)
            #expect(inferenceOutput.values == expectedOutput, "\(instructionSet) without indices")
            // Overlapping windows add gradients in a different order than the reference.
            #expect(closeness(inputGradient.values, expectedGradient) <= 1, "\(instructionSet)")
        }
    }

    /// Ties keep the first maximum in window order, like the reference; all-equal windows route every
    /// gradient to the window's first in-frame element.
    @Test func maxPoolTiesPickTheFirstElement() {
        let testCase = WindowCase(batch: 3, height: 5, width: 5, channels: 8, kernelSize: 3, stride: 2, padding: .same)
        let g = testCase.geometry
        let input = Tensor(shape: testCase.inputShape, repeating: -2)
        let expected = Reference.maxPoolArgmax(input: input.values, batch: testCase.batch, geometry: g)
        // `indices` are offsets inside one image; the reference's are offsets in the whole batch.
        let perImage = g.outputPixels * g.channels
        let expectedInImage = expected.enumerated().map { Float($1 - ($0 / perImage) * g.inputSize) }
        for instructionSet in InstructionSet.available {
            let output = Tensor(shape: testCase.outputShape(channels: 8))
            let indices = Tensor(shape: output.shape)
            Pooling.maxForward(input: input, geometry: g, output: output, indices: indices, instructionSet: instructionSet)
            #expect(indices.values == expectedInImage, "\(instructionSet)")
            #expect(output.values.allSatisfy { $0 == -2 })
        }
    }

    @Test(arguments: WindowCase.all)
    func averagePoolMatchesReference(testCase: WindowCase) {
        let g = testCase.geometry
        let input = randomTensor(testCase.inputShape, seed: 33)
        let outputGradient = randomTensor(testCase.outputShape(channels: g.channels), seed: 34)
        let output = garbageTensor(testCase.outputShape(channels: g.channels))
        Pooling.averageForward(input: input, geometry: g, output: output)
        let inputGradient = garbageTensor(input.shape)
        Pooling.averageBackward(outputGradient: outputGradient, geometry: g, inputGradient: inputGradient)

        let expectedOutput = Reference.averagePoolForward(input: input.values, batch: testCase.batch, geometry: g)
        let expectedGradient = Reference.averagePoolBackward(
            outputGradient: outputGradient.values, batch: testCase.batch, geometry: g)
        #expect(closeness(output.values, expectedOutput) <= 1, "forward")
        #expect(closeness(inputGradient.values, expectedGradient) <= 1, "input gradient")
    }

    @Test(arguments: [(1, 1, 1, 3), (3, 7, 9, 8), (3, 5, 5, 16), (2, 6, 6, 3)])
    func globalAveragePoolMatchesReference(batch: Int, height: Int, width: Int, channels: Int) {
        let input = randomTensor([batch, height, width, channels], seed: 35)
        let outputGradient = randomTensor([batch, channels], seed: 36)
        let output = garbageTensor([batch, channels])
        Pooling.globalAverageForward(input: input, output: output)
        let inputGradient = garbageTensor(input.shape)
        Pooling.globalAverageBackward(outputGradient: outputGradient, inputGradient: inputGradient)

        let pixels = height * width
        #expect(closeness(output.values, Reference.globalAveragePoolForward(
            input: input.values, batch: batch, pixels: pixels, channels: channels)) <= 1)
        #expect(closeness(inputGradient.values, Reference.globalAveragePoolBackward(
            outputGradient: outputGradient.values, batch: batch, pixels: pixels, channels: channels)) <= 1)
    }
}
