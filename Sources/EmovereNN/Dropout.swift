import EmovereCore
import EmovereTensor

/// Inverted dropout: in training, zeroes each element with probability `rate` and scales the rest by
/// `1 / (1 - rate)`; identity in inference. The mask comes from the forward mode's seed.
public final class Dropout: Layer {
    public let rate: Float
    private var mask: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var wasTraining = false

    public init(rate: Float) {
        precondition(rate >= 0 && rate < 1, "dropout rate must be in [0, 1), received \(rate)")
        self.rate = rate
    }

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        inputShape
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        wasTraining = mode.isTraining && rate > 0
        guard wasTraining else { return input }
        let mask = Tensor.reusing(mask, shape: input.shape)
        var random = SplitMix64(seed: mode.seed ^ 0xD5A6_1266_F0C9_392C)
        let keep = 1 / (1 - rate)
        for index in 0..<mask.count { mask[index] = random.nextUnit() < rate ? 0 : keep }
        let output = Tensor.reusing(output, shape: input.shape)
        Elementwise.multiply(input, mask, into: output)
        self.mask = mask
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard wasTraining, let mask else { return outputGradient }
        let inputGradient = Tensor.reusing(inputGradient, shape: outputGradient.shape)
        Elementwise.multiply(outputGradient, mask, into: inputGradient)
        self.inputGradient = inputGradient
        return inputGradient
    }
}
