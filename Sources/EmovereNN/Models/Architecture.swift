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

    /// An architecture of `family`.
    public init(_ family: Family, inputSize: Int = 48, classCount: Int = 7) {
        self.init(name: family.rawValue, inputSize: inputSize, classCount: classCount)
    }

    /// The registered network families: the one list of architecture names (model files store the raw value).
    public enum Family: String, Sendable, CaseIterable {
        case miniXception = "mini-xception"
        case wideXception = "wide-xception"
        case tinyCNN = "tiny-cnn"

        /// The unbuilt layers of this family with `classCount` outputs.
        public func network(classCount: Int) -> Sequential {
            switch self {
            case .miniXception: MiniXception.network(classCount: classCount)
            case .wideXception: WideXception.network(classCount: classCount)
            case .tinyCNN: TinyCNN.network(classCount: classCount)
            }
        }
    }

    /// Names of all registered architectures.
    public static var knownNames: [String] { Family.allCases.map(\.rawValue) }

    /// The layers of this architecture (unbuilt).
    public func makeNetwork() throws(ModelError) -> Sequential {
        guard let family = Family(rawValue: name) else { throw .unknownArchitecture(name: name, known: Self.knownNames) }
        return family.network(classCount: classCount)
    }

    public var description: String { "\(name) \(inputSize)x\(inputSize)" }
}
