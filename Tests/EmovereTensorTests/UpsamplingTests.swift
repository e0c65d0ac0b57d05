import EmovereCore
import EmovereTensor
import EmovereTestSupport
import Testing

/// Nearest upsampling and the sigmoid against their reference twins.
struct UpsamplingTests {
    @Test(arguments: [(1, 3, 4, 2, 2), (2, 5, 3, 8, 2), (1, 2, 2, 3, 3)])
    func nearestUpsamplingMatchesTheReference(batch: Int, height: Int, width: Int, channels: Int, factor: Int) {
        var random = SplitMix64(seed: UInt64(batch * 100 + height * 10 + width))
        let count = batch * height * width * channels
        let input = Tensor(shape: [batch, height, width, channels], values: (0..<count).map { _ in random.nextFloat(in: -1...1) })
        let output = Tensor(shape: [batch, height * factor, width * factor, channels])
        Upsampling.nearestForward(input: input, factor: factor, output: output)
        #expect(output.values == Reference.nearestUpsampleForward(
            input: input.values, batch: batch, height: height, width: width, channels: channels, factor: factor))

        let outputGradient = Tensor(shape: output.shape, values: (0..<output.count).map { _ in random.nextFloat(in: -1...1) })
        let inputGradient = Tensor(shape: input.shape, repeating: 7)
        Upsampling.nearestBackward(outputGradient: outputGradient, factor: factor, inputGradient: inputGradient)
        let reference = Reference.nearestUpsampleBackward(
            outputGradient: outputGradient.values, batch: batch, height: height, width: width, channels: channels,
            factor: factor)
        #expect(zip(inputGradient.values, reference).allSatisfy { abs($0 - $1) <= 1e-5 })
    }

    @Test func sigmoidMatchesTheReference() {
        let values: [Float] = (0..<40_000).map { Float($0 % 400) / 10 - 20 }
        let input = Tensor(shape: [values.count], values: values)
        let output = Tensor(shape: [values.count])
        Elementwise.sigmoid(input, into: output)
        // Relative as well: below -14 the values are under 1e-6, where an absolute tolerance alone accepts anything.
        #expect(zip(output.values, Reference.sigmoid(values)).allSatisfy { abs($0 - $1) <= 1e-6 * max(1e-3, $1) })
    }
}
