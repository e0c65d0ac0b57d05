import EmovereData
import EmovereNN
import EmovereTensor
import EmovereVision

/// One face found in a photo, with its emotion probabilities.
public struct FaceEmotion: Sendable, Codable, Equatable {
    /// The detected face box in the photo's pixels (origin top-left).
    public var box: Rect
    /// Probabilities in `Emotion` order (sum 1).
    public var probabilities: [Float]

    /// The most probable emotion.
    public var emotion: Emotion {
        Emotion(rawValue: probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0) ?? .neutral
    }

    /// The probability of `emotion`.
    public var confidence: Float { probabilities.max() ?? 0 }
}

/// Detects faces in a photo and classifies each one's emotion: detect (Haar cascade), crop with the
/// model's margin, resize to the model input, preprocess exactly as the model file says, and run all
/// faces of the photo through the model as one batch.
///
/// Holds per-call buffers in its model, so one recognizer serves one thread at a time.
public final class EmotionRecognizer {
    public let model: Model
    public let card: ModelCard
    public let detector: FaceDetector
    public var detection: FaceDetector.DetectionParameters

    public init(model: Model, card: ModelCard, detector: FaceDetector,
                detection: FaceDetector.DetectionParameters = .faceClassification) {
        self.model = model
        self.card = card
        self.detector = detector
        self.detection = detection
    }

    /// Faces and emotions in `image`; an empty array when no face is found.
    public func analyze(_ image: GrayImage) -> [FaceEmotion] {
        let boxes = detector.detect(in: image, parameters: detection)
        return boxes.isEmpty ? [] : classify(faces: boxes, in: image)
    }

    /// Emotions for the given face `boxes` of `image`.
    public func classify(faces boxes: [Rect], in image: GrayImage) -> [FaceEmotion] {
        let size = card.preprocessing.inputSize
        let input = Tensor(shape: [boxes.count, size, size, 1])
        for (slot, box) in boxes.enumerated() {
            let crop = image.cropped(to: box.expanded(byFraction: Double(card.preprocessing.faceMargin))
                .clamped(toWidth: image.width, height: image.height))
            let face = crop.resized(width: size, height: size)
            let destination = input.pointer + slot * size * size
            for index in 0..<(size * size) { destination[index] = Float(face.pixels[index]) }
            card.preprocessing.apply(destination, count: size * size)
        }
        let probabilities = model.probabilities(input)
        let classes = model.architecture.classCount
        return boxes.enumerated().map { slot, box in
            FaceEmotion(box: box, probabilities: Array(probabilities.values[(slot * classes)..<((slot + 1) * classes)]))
        }
    }
}
