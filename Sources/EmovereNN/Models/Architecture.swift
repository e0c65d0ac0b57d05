import EmovereTensor

/// A named network family with its input size: what a model file records to rebuild the layers.
public struct Architecture: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The registered name, e.g. `"mini-xception"`.
    public var name: String
    /// Input height and width in pixels (inputs are `[N, size, size, 1]`).
    public var inputSize: Int
    /// Output classes.
    public var classCount: Int

    public init(name: String, inputSize: Int = 48, classCount: Int = 7) {
        self.name = name
        self.inputSize = inputSize
        self.classCount = classCount
    }

    /// Names of all registered architectures.
    public static let knownNames = ["mini-xception", "wide-xception", "tiny-cnn"]

    /// The layers of this architecture (unbuilt).
    public func makeNetwork() throws(ModelError) -> Sequential {
        switch name {
        case "mini-xception": MiniXception.network(classCount: classCount)
        case "wide-xception": WideXception.network(classCount: classCount)
        case "tiny-cnn": TinyCNN.network(classCount: classCount)
        default: throw .unknownArchitecture(name: name, known: Self.knownNames)
        }
    }

    public var description: String { "\(name) \(inputSize)x\(inputSize)" }
}
