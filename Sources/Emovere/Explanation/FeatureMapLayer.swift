/// A layer of a network's top level whose output is a feature map, which Grad-CAM can explain.
public struct FeatureMapLayer: Equatable, Sendable, CustomStringConvertible {
    /// The position in `Sequential.layers`.
    public var index: Int
    /// The layer's type, e.g. `Residual`.
    public var kind: String
    /// The per-example output shape `[height, width, channels]`.
    public var outputShape: [Int]

    public init(index: Int, kind: String, outputShape: [Int]) {
        self.index = index
        self.kind = kind
        self.outputShape = outputShape
    }

    public var description: String {
        "\(index) (\(kind), \(outputShape.map(String.init).joined(separator: "x")))"
    }
}
