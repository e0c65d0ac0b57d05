import EmovereCore
import EmovereTensor

/// A tensor a layer learns or tracks, with its gradient.
public final class Parameter: @unchecked Sendable {
    /// What the optimizer does with a parameter.
    public enum Role: String, Sendable, Codable {
        /// A kernel: trained, and L2 weight decay applies.
        case weight
        /// A bias, scale or shift: trained, no weight decay.
        case bias
        /// A running statistic (batch-norm mean and variance): saved, never trained.
        case state
    }

    /// The largest magnitude a value read from a file may have (model files, checkpoints, imports and ONNX graphs are
    /// checked): no trained network's (the bundled models' largest is under 16); such values overflow float32 sums
    /// into NaN predictions, so a file holding one is damaged.
    public static let largestStoredValue: Float = 1e6

    /// The role of the parameter.
    public let role: Role
    /// The current value.
    public let value: Tensor
    /// The gradient of the loss with respect to `value` after the last backward pass (same shape).
    public let gradient: Tensor

    /// A parameter of `shape` with initial `values` (defaults to zeros).
    public init(shape: [Int], role: Role, values: [Float]? = nil) {
        self.role = role
        value = values.map { Tensor(shape: shape, values: $0) } ?? Tensor(shape: shape)
        gradient = Tensor(shape: role == .state ? [0] : shape)
    }

    /// True when an optimizer updates the parameter.
    public var isTrainable: Bool { role != .state }

    /// Glorot (Xavier) uniform initial values, Keras's default for kernels:
    /// U(-limit, limit) with limit = sqrt(6 / (fanIn + fanOut)).
    public static func glorotUniform(count: Int, fanIn: Int, fanOut: Int, random: inout SplitMix64) -> [Float] {
        let limit = (6 / Float(max(fanIn + fanOut, 1))).squareRoot()
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { values in
            var index = 0  // a plain loop: every model built, also for loading a file, draws these (debug builds too)
            while index < values.count {
                values[index] = random.nextFloat(in: -limit...limit)
                index += 1
            }
        }
        return values
    }
}

/// A parameter and its dotted path in the model (`"3.main.0.depthwise_kernel"`), the key in model files.
public struct NamedParameter: Sendable {
    public let name: String
    public let parameter: Parameter
}
