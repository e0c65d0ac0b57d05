import EmovereCore
import EmovereTensor

/// Whether a forward pass trains (batch statistics, dropout) or infers, and the seed for its randomness.
public struct ForwardMode: Sendable {
    public var isTraining: Bool
    /// Seeds per-step randomness (dropout masks) so a resumed run repeats the same masks.
    public var seed: UInt64
    /// Whether a `backward` call may follow: layers then keep what it needs (inputs, max-pool
    /// indices) instead of taking faster forward-only paths. Always true in training.
    public var allowsBackward: Bool

    public init(isTraining: Bool, seed: UInt64 = 0) {
        self.isTraining = isTraining
        self.seed = seed
        allowsBackward = isTraining
    }

    /// Inference: running statistics, no dropout, no backward pass.
    public static let inference = ForwardMode(isTraining: false)

    /// Inference that a backward pass may follow (running statistics, no dropout), e.g. to explain a
    /// prediction with input gradients.
    public static let differentiableInference: ForwardMode = {
        var mode = ForwardMode(isTraining: false)
        mode.allowsBackward = true
        return mode
    }()

    /// The same mode with another seed (for the layers of a container).
    public func seeded(_ seed: UInt64) -> ForwardMode {
        var mode = self
        mode.seed = seed
        return mode
    }
}

/// A differentiable network layer on NHWC tensors.
///
/// A layer is built once for an input shape, then called forward and backward on batches. It keeps
/// its activations and buffers between calls (one set per batch size), so a layer object serves one
/// thread at a time; clone the model for concurrent inference.
public protocol Layer: AnyObject {
    /// Allocates parameters for a per-example input shape (`[H, W, C]` or `[features]`) and returns
    /// the per-example output shape. Throws when the shape cannot work (e.g. a kernel larger than the input).
    func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int]

    /// Computes the output for `input` `[N, ...inputShape]`. The returned tensor is owned by the layer
    /// and overwritten by the next call.
    func forward(_ input: Tensor, mode: ForwardMode) -> Tensor

    /// Given the gradient of the loss with respect to the last output, stores parameter gradients and
    /// returns the gradient with respect to the last input (nil when `needsInputGradient` is false).
    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor?

    /// The layer's parameters with names relative to the layer (`"kernel"`, `"0.gamma"`).
    var namedParameters: [NamedParameter] { get }

    /// Multiply-adds of one example's forward pass through the layer's weights (convolutions and
    /// dense layers; normalisation, activations and pooling count as none). Zero before `build`.
    var multiplyAdds: Int { get }
}

extension Layer {
    public var namedParameters: [NamedParameter] { [] }
    public var multiplyAdds: Int { 0 }
}

/// Errors from building, loading or using a model.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidShape(layer: String, expected: String, received: [Int])
    case unknownArchitecture(name: String, known: [String])
    case missingParameter(name: String)
    case parameterShapeMismatch(name: String, expected: [Int], received: [Int])
    case unexpectedParameter(name: String)
    case invalidModelFile(path: String, reason: String)
    case invalidGraph(node: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidShape(layer, expected, received):
            "\(layer) expects an input of \(expected), received \(received)"
        case let .unknownArchitecture(name, known):
            "unknown architecture '\(name)'; expected one of: \(known.joined(separator: ", "))"
        case let .missingParameter(name):
            "model file has no tensor '\(name)', which the architecture needs"
        case let .parameterShapeMismatch(name, expected, received):
            "tensor '\(name)' has shape \(received), the architecture expects \(expected)"
        case let .unexpectedParameter(name):
            "model file has a tensor '\(name)' that the architecture does not use"
        case let .invalidModelFile(path, reason):
            "\(path): \(reason)"
        case let .invalidGraph(node, reason):
            "graph node '\(node)': \(reason)"
        }
    }
}
