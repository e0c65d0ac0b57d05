import EmovereCore
import EmovereTensor

/// How a ReLU passes gradients back.
public enum ReLUBackwardRule: Sendable, Equatable {
    /// The true gradient: `dx = x > 0 ? dy : 0`.
    case gradient
    /// Guided backpropagation (Springenberg et al., 2015): only positive gradients at positive inputs,
    /// `dx = x > 0 && dy > 0 ? dy : 0`. Not a gradient; used to visualise what an output responds to.
    case guided
}

/// Rectified linear unit, `max(x, 0)`, any shape.
public final class ReLU: Layer {
    private var output: Tensor?
    private var inputGradient: Tensor?
    /// True when the preceding batch norm or residual block applies this ReLU itself; the layer then passes values and
    /// gradients through unchanged.
    public internal(set) var isFused = false
    /// How `backward` treats gradients (the true gradient unless explaining with guided backpropagation).
    public var backwardRule = ReLUBackwardRule.gradient

    public init() {}

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        inputShape
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        if isFused { return input }
        let output = Tensor.reusing(output, shape: input.shape)
        Elementwise.relu(input, into: output)
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        if isFused { return outputGradient }
        guard let output else { preconditionFailure("ReLU backward before forward") }
        let inputGradient = Tensor.reusing(inputGradient, shape: output.shape)
        Elementwise.reluBackward(output: output, outputGradient: outputGradient, guided: backwardRule == .guided,
                                 into: inputGradient)
        self.inputGradient = inputGradient
        return inputGradient
    }
}
