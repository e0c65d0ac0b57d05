import EmovereCore
import EmovereTensor

/// Nearest-neighbour upsampling by an integer factor: `[N, H, W, C] -> [N, H * factor, W * factor, C]`
/// (ONNX `Resize`, mode nearest, integer scales).
public final class Upsample2d: Layer {
    /// How many times each pixel is repeated along each axis.
    public let factor: Int
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var inputShape: [Int] = []

    public init(factor: Int) {
        precondition(factor >= 1, "Upsample2d needs a factor of 1 or more")
        self.factor = factor
    }

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        guard inputShape.count == 3 else {
            throw .invalidShape(layer: "Upsample2d", expected: "[height, width, channels]", received: inputShape)
        }
        let (height, tallOverflow) = inputShape[0].multipliedReportingOverflow(by: factor)
        let (width, wideOverflow) = inputShape[1].multipliedReportingOverflow(by: factor)
        guard !tallOverflow, !wideOverflow else {
            throw .invalidShape(layer: "Upsample2d", expected: "a map that stays countable when enlarged \(factor) times",
                                received: inputShape)
        }
        return [height, width, inputShape[2]]
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        let shape = input.shape
        let output = Tensor.reusing(output, shape: [shape[0], shape[1] * factor, shape[2] * factor, shape[3]])
        Upsampling.nearestForward(input: input, factor: factor, output: output)
        inputShape = shape
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        let inputGradient = Tensor.reusing(inputGradient, shape: inputShape)
        Upsampling.nearestBackward(outputGradient: outputGradient, factor: factor, inputGradient: inputGradient)
        self.inputGradient = inputGradient
        return inputGradient
    }
}
