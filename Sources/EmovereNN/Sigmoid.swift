import EmovereCore
import EmovereTensor

/// The logistic function `1 / (1 + e^-x)`, any shape.
public final class Sigmoid: Layer {
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init() {}

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        inputShape
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        let output = Tensor.reusing(output, shape: input.shape)
        Elementwise.sigmoid(input, into: output)
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard let output else { preconditionFailure("Sigmoid backward before forward") }
        let inputGradient = Tensor.reusing(inputGradient, shape: output.shape)
        Elementwise.sigmoidBackward(output: output, outputGradient: outputGradient, into: inputGradient)
        self.inputGradient = inputGradient
        return inputGradient
    }
}
