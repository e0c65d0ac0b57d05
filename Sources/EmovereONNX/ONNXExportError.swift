/// Why a model could not be exported to ONNX.
public enum ONNXExportError: Error, CustomStringConvertible, Equatable {
    /// A layer type the exporter does not translate, at `path` in the layer tree (`"3.main.0"`).
    case unsupportedLayer(type: String, path: String)
    /// A layer whose parameters do not exist yet: the network was never built.
    case unbuiltLayer(type: String, path: String)
    /// A layer received an input of another rank than it works on.
    case invalidInputShape(type: String, path: String, expected: String, received: [Int])
    /// The model card describes another architecture or input size than the model.
    case cardMismatch(field: String, model: String, card: String)
    /// The protobuf or JSON encoding failed.
    case encodingFailed(reason: String)

    public var description: String {
        switch self {
        case let .unsupportedLayer(type, path):
            "cannot export layer \(type) at \(Self.describe(path)) to ONNX; supported layers are "
                + "containers with one output (Sequential, Residual, Graph), Conv2d, DepthwiseConv2d, SeparableConv2d, "
                + "BatchNorm, ReLU, Sigmoid, Upsample2d, Pool2d, GlobalAveragePool2d, Dense and Dropout"
        case let .unbuiltLayer(type, path):
            "layer \(type) at \(Self.describe(path)) has no parameters: build the model before exporting it"
        case let .invalidInputShape(type, path, expected, received):
            "layer \(type) at \(Self.describe(path)) expects an input of \(expected), received \(received)"
        case let .cardMismatch(field, model, card):
            "model card \(field) is \(card), but the model's is \(model)"
        case let .encodingFailed(reason):
            "cannot encode the ONNX model: \(reason)"
        }
    }

    /// `path` as people read it: the root of the layer tree has the empty path.
    private static func describe(_ path: String) -> String {
        path.isEmpty ? "the network's root" : "'\(path)'"
    }
}
