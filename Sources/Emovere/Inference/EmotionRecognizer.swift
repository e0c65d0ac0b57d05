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

    /// Emotions for the given face `boxes` of `image`, with the test-time augmentation the model card names:
    /// every view of every face (`TestTimeAugmentation.views`) goes through the model in one batch and each
    /// face's probabilities are the mean over its views.
    public func classify(faces boxes: [Rect], in image: GrayImage) -> [FaceEmotion] {
        let views = (card.testTimeAugmentation ?? .none).views
        let input = inputBatch(boxes.map { faceImage(for: $0, in: image) }, views: views)
        let probabilities = model.probabilities(input)
        let classes = model.architecture.classCount
        return boxes.enumerated().map { slot, box in
            let values = (0..<classes).map { k in
                views.indices.reduce(Float(0)) { $0 + probabilities[(($1 * boxes.count) + slot) * classes + k] }
                    / Float(views.count)
            }
            return FaceEmotion(box: box, probabilities: values)
        }
    }

    /// The part of `image` the model sees for the face `box`: the box widened by the card's face margin,
    /// clamped to the image.
    public func region(for box: Rect, in image: GrayImage) -> Rect {
        box.expanded(byFraction: Double(card.preprocessing.faceMargin)).clamped(toWidth: image.width, height: image.height)
    }

    /// The face at `box` as the model sees it: `region(for:in:)` resized to the model's input size `S x S`.
    public func faceImage(for box: Rect, in image: GrayImage) -> GrayImage {
        let size = card.preprocessing.inputSize
        return image.cropped(to: region(for: box, in: image)).resized(width: size, height: size)
    }

    /// Model inputs `[views.count * faces.count, S, S, 1]` for `faces` (from `faceImage(for:in:)`; other sizes
    /// are resized to `S x S`), preprocessed as the model card says: every face as the first view, then every
    /// face as the second view, and so on.
    public func inputBatch(_ faces: [GrayImage], views: [InputBatch.View] = [.original]) -> Tensor {
        let size = card.preprocessing.inputSize
        let pixels = size * size
        let input = Tensor(shape: [faces.count * views.count, size, size, 1])
        for (slot, image) in faces.enumerated() {
            let face = image.width == size && image.height == size ? image : image.resized(width: size, height: size)
            for (index, view) in views.enumerated() {
                let destination = input.pointer + (index * faces.count + slot) * pixels
                view.write(face, to: destination)
                card.preprocessing.apply(destination, count: pixels)
            }
        }
        return input
    }
}
