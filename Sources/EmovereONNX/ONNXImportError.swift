/// Why an ONNX file could not be read into an Emovere graph.
public enum ONNXImportError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read or is not an ONNX `ModelProto`.
    case unreadableFile(path: String, reason: String)
    /// The model is well-formed protobuf but not a graph Emovere can run (inputs, shapes, tensors).
    case invalidModel(path: String, reason: String)
    /// A node uses an operator Emovere does not translate.
    case unsupportedOperator(path: String, node: String, operator: String)
    /// A node uses an attribute (or constant input) value outside what Emovere translates.
    case unsupportedAttribute(path: String, node: String, operator: String, attribute: String, expected: String,
                              received: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            "\(path): cannot read the ONNX model: \(reason)"
        case let .invalidModel(path, reason):
            "\(path): \(reason)"
        case let .unsupportedOperator(path, node, operation):
            "\(path): node '\(node)' uses the operator \(operation), which Emovere does not import; supported: "
                + ONNXImporter.supportedOperators.joined(separator: ", ")
        case let .unsupportedAttribute(path, node, operation, attribute, expected, received):
            "\(path): node '\(node)' (\(operation)) has \(attribute) = \(received); Emovere imports \(expected)"
        }
    }
}
