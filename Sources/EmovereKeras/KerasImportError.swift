/// Why a Keras HDF5 file could not be imported. Every message starts with the file's path.
public enum KerasImportError: Error, CustomStringConvertible, Equatable {
    /// No file at the path.
    case fileNotFound(path: String)
    /// The file does not carry HDF5's signature.
    case notHDF5(path: String)
    /// HDF5 could not open or read part of the file (damaged or truncated); `object` names the part.
    case unreadable(path: String, object: String, reason: String)
    /// An HDF5 file, but not a Keras model saved with `model.save` (e.g. weights only, or no `model_config`).
    case notKerasModel(path: String, reason: String)
    /// The `model_config` JSON is malformed or in a layout this importer does not read.
    case invalidModelConfig(path: String, reason: String)
    /// The first Keras layer (in the order the graph is walked) that does not fit the Emovere architecture.
    case incompatibleLayer(path: String, layer: String, className: String, expected: String, received: String)
    /// A layer's weights lack a variable the Emovere layer needs.
    case missingWeight(path: String, layer: String, variable: String, available: [String])
    /// A weight's shape differs from the Emovere parameter's.
    case weightShapeMismatch(path: String, layer: String, variable: String, expected: [Int], received: [Int])
    /// The Emovere model could not be built for the file's input size.
    case invalidModel(path: String, reason: String)

    public var description: String {
        switch self {
        case let .fileNotFound(path):
            "\(path): no such file"
        case let .notHDF5(path):
            "\(path): not an HDF5 file (no HDF5 signature); expected a Keras model saved with model.save(...h5/.hdf5)"
        case let .unreadable(path, object, reason):
            "\(path): cannot read \(object): \(reason.isEmpty ? "HDF5 reported an error (damaged or truncated file?)" : reason)"
        case let .notKerasModel(path, reason):
            "\(path): not a Keras model file: \(reason)"
        case let .invalidModelConfig(path, reason):
            "\(path): model_config: \(reason)"
        case let .incompatibleLayer(path, layer, className, expected, received):
            "\(path): layer '\(layer)' (\(className)) does not fit mini-Xception: expected \(expected), found \(received)"
        case let .missingWeight(path, layer, variable, available):
            "\(path): layer '\(layer)' has no weight '\(variable)'; it has \(available.isEmpty ? "none" : available.joined(separator: ", "))"
        case let .weightShapeMismatch(path, layer, variable, expected, received):
            "\(path): weight '\(variable)' of layer '\(layer)' has shape \(received), expected \(expected)"
        case let .invalidModel(path, reason):
            "\(path): \(reason)"
        }
    }
}
