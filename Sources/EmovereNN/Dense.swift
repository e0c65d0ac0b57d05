import EmovereCore
import EmovereTensor

/// A fully connected layer: `[N, features] -> [N, units]` (a 3-D per-example input is flattened),
/// `y = x · kernel + bias`, kernel `[features, units]`.
public final class Dense: Layer {
    public let units: Int
    public let usesBias: Bool
    public private(set) var kernel: Parameter?
    public private(set) var bias: Parameter?
    private var features = 0
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init(units: Int, usesBias: Bool = true) {
        precondition(units > 0, "Dense needs a positive number of units")
        self.units = units
        self.usesBias = usesBias
    }

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        features = inputShape.reduce(1, *)
        guard features > 0 else { throw .invalidShape(layer: "Dense", expected: "a non-empty input", received: inputShape) }
        kernel = Parameter(
            shape: [features, units], role: .weight,
            values: Parameter.glorotUniform(count: features * units, fanIn: features, fanOut: units, random: &random))
        bias = usesBias ? Parameter(shape: [units], role: .bias) : nil
        return [units]
    }

    public var multiplyAdds: Int { features * units }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        guard let kernel else { preconditionFailure("Dense used before build") }
        let batch = input.shape[0]
        let output = Tensor.reusing(output, shape: [batch, units])
        Gemm.multiply(input.pointer, kernel.value.pointer, into: output.pointer, m: batch, n: units, k: features)
        if let bias { Elementwise.addRowVector(bias.value.pointer, to: output.pointer, rows: batch, columns: units) }
        self.input = input
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let kernel, let input else { preconditionFailure("Dense backward before forward") }
        let batch = input.shape[0]
        Gemm.multiply(input.pointer, outputGradient.pointer, into: kernel.gradient.pointer,
                      m: features, n: units, k: batch, transposeA: true)
        if let bias {
            Elementwise.sumRows(outputGradient.pointer, rows: batch, columns: units, into: bias.gradient.pointer)
        }
        guard needsInputGradient else { return nil }
        let inputGradient = Tensor.reusing(inputGradient, shape: input.shape)
        Gemm.multiply(outputGradient.pointer, kernel.value.pointer, into: inputGradient.pointer,
                      m: batch, n: features, k: units, transposeB: true)
        self.inputGradient = inputGradient
        return inputGradient
    }

    public var namedParameters: [NamedParameter] {
        [kernel.map { NamedParameter(name: "kernel", parameter: $0) },
         bias.map { NamedParameter(name: "bias", parameter: $0) }].compactMap { $0 }
    }
}
