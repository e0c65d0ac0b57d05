/// A request to explain a prediction that cannot work.
public enum ExplanationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The recognizer's model is an `InferenceModel` (batch norms folded into its convolutions), which has no
    /// backward pass.
    case foldedNetwork
    /// The network does not end in logits `[classes]` per example.
    case notAClassifier(outputShape: [Int])
    /// No layer of the network's top level outputs a feature map `[h, w, channels]`.
    case noFeatureMapLayer
    /// The requested layer does not exist or does not output a feature map; `choices` lists those that do.
    case invalidLayer(index: Int, reason: String, choices: [FeatureMapLayer])
    /// The input batch has the wrong shape.
    case invalidInputShape(expected: [Int], received: [Int])
    /// The target class is not one of the network's classes.
    case invalidTargetClass(Int, classCount: Int)
    /// The number of target classes differs from the number of examples.
    case targetCountMismatch(targets: Int, examples: Int)

    public var description: String {
        switch self {
        case .foldedNetwork:
            "explanations need the trainable model, its batch norms as separate layers (ModelFile.load, not loadForInference)"
        case let .notAClassifier(outputShape):
            "explanations need a network that outputs logits [classes] per example, this one outputs \(outputShape)"
        case .noFeatureMapLayer:
            "the network has no top-level layer with a [height, width, channels] output to explain"
        case let .invalidLayer(index, reason, choices):
            "layer \(index) \(reason); expected one of: " + choices.map(\.description).joined(separator: ", ")
        case let .invalidInputShape(expected, received):
            "explanations expect an input batch [N, \(expected.map(String.init).joined(separator: ", "))] "
                + "with N >= 1, received \(received)"
        case let .invalidTargetClass(target, classCount):
            "target class \(target) is out of range: expected 0..<\(classCount)"
        case let .targetCountMismatch(targets, examples):
            "expected one target class per example (\(examples)), received \(targets)"
        }
    }
}
