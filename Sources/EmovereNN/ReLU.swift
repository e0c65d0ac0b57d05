import EmovereTensor

/// Rectified linear unit, `max(x, 0)`, any shape.
public final class ReLU: Layer {
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init() {}

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        inputShape
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        let output = Tensor.reusing(output, shape: input.shape)
        Elementwise.relu(input, into: output)
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient, let output else { return nil }
        let inputGradient = Tensor.reusing(inputGradient, shape: output.shape)
        Elementwise.reluBackward(output: output, outputGradient: outputGradient, into: inputGradient)
        self.inputGradient = inputGradient
        return inputGradient
    }
}
