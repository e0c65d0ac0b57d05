import EmovereData
import EmovereNN
import EmovereTensor
import EmovereVision

/// One face of a photo with the explanation of one of its emotions.
public struct FaceExplanation: Sendable {
    /// The face box and its probabilities, as `EmotionRecognizer.analyze(_:)` reports them.
    public var face: FaceEmotion
    /// The part of the photo the model saw (the box widened by the model's face margin, clamped to the photo; a
    /// landmark crop, turned upright with the eye line, may reach past the photo's edges).
    public var region: ImageRegion
    /// The explained emotion.
    public var emotion: Emotion
    /// The face as the model saw it, `S x S` (before preprocessing).
    public var input: GrayImage
    /// Grad-CAM over the face `S x S`, 0...1, row by row.
    public var gradCAM: [Float]
    /// Guided backpropagation `S x S` (signed), row by row.
    public var guidedBackpropagation: [Float]
    /// Guided Grad-CAM `S x S` (signed), row by row.
    public var guidedGradCAM: [Float]
}

/// Finds the faces of a photo with an `EmotionRecognizer` and explains, for each, its most probable emotion (or a
/// chosen one) with Grad-CAM and guided backpropagation.
///
/// Probabilities are the recognizer's (with the model card's test-time augmentation); the explanations are of
/// the face as it is, not of its mirror image. Uses the recognizer's model: one thread at a time.
public final class FaceExplainer {
    public let recognizer: EmotionRecognizer
    public let gradCAM: GradCAM

    /// An explainer for `recognizer`, whose model must be a trainable `Model` (not an `InferenceModel`), at the
    /// top-level network layer `layerIndex` (default: `GradCAM.defaultLayer(among:classCount:)`).
    public init(recognizer: EmotionRecognizer, layerIndex: Int? = nil) throws(ExplanationError) {
        guard let model = recognizer.model as? Model else { throw .foldedNetwork }
        self.recognizer = recognizer
        gradCAM = try GradCAM(model: model, layerIndex: layerIndex)
    }

    /// The faces of `image`, each with the explanation of `emotion` or, by default, of its most probable
    /// emotion; empty when no face is found.
    public func explain(_ image: GrayImage, emotion: Emotion? = nil) throws(ExplanationError) -> [FaceExplanation] {
        try explain(image.rgb(), emotion: emotion)
    }

    /// The faces of a colour `image` (detected in colour, classified and explained on its luma), each with the
    /// explanation of `emotion` or of its most probable emotion; empty when no face is found.
    public func explain(_ color: RGBImage, emotion: Emotion? = nil) throws(ExplanationError) -> [FaceExplanation] {
        try explain(recognizer.analyze(color), in: color, emotion: emotion)
    }

    /// The faces of a photo analysed by `EmotionRecognizer.analyzePhoto` (the path of `analyze` and the server),
    /// explained on the decoded image: each explanation's face and region are in `photo.image`'s pixels, in the
    /// order of `photo.faces`.
    public func explain(_ photo: PhotoAnalysis, emotion: Emotion? = nil) throws(ExplanationError) -> [FaceExplanation] {
        try explain(photo.facesInImage, in: photo.image, emotion: emotion)
    }

    private func explain(_ faces: [FaceEmotion], in color: RGBImage, emotion: Emotion?) throws(ExplanationError)
        -> [FaceExplanation] {
        guard !faces.isEmpty else { return [] }
        let image = color.grayscale()
        let inputs = faces.map { recognizer.faceImage(for: $0.detectedFace, in: image) }
        let targets = faces.map { emotion ?? $0.emotion }
        var explanations: [FaceExplanation] = []
        // A slice of faces at a time: the backward pass keeps every layer's activations of its batch (megabytes a
        // face), so a crowd of faces at once could take gigabytes.
        for start in stride(from: 0, to: faces.count, by: Model.inferenceSlice) {
            let slice = start..<min(start + Model.inferenceSlice, faces.count)
            let explanation = try gradCAM.explain(recognizer.inputBatch(Array(inputs[slice])),
                                                  targetClasses: targets[slice].map(\.rawValue))
            let pixels = explanation.gradCAM.count / slice.count
            for (slot, index) in slice.enumerated() {
                func values(_ tensor: Tensor) -> [Float] {
                    Array(UnsafeBufferPointer(start: tensor.pointer + slot * pixels, count: pixels))
                }
                explanations.append(FaceExplanation(
                    face: faces[index], region: recognizer.sampledRegion(for: faces[index].detectedFace, in: image),
                    emotion: targets[index], input: inputs[index], gradCAM: values(explanation.gradCAM),
                    guidedBackpropagation: values(explanation.guidedBackpropagation),
                    guidedGradCAM: values(explanation.guidedGradCAM)))
            }
        }
        return explanations
    }
}
