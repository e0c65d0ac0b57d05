import EmovereData
import EmovereNN
import EmovereTensor
import EmovereVision

/// One face found in a photo, with its emotion probabilities: the one face record of photos, video frames, the
/// live view and the server.
public struct FaceEmotion: Sendable, Codable, Equatable {
    /// The detected face box in the photo's pixels (origin top-left).
    public var box: Rect
    /// Probabilities in `Emotion` order (sum 1).
    public var probabilities: [Float]
    /// The detector's confidence, where it gives one (YuNet).
    public var detectionScore: Float?
    /// The five facial landmarks, where the detector gives them (YuNet).
    public var landmarks: FaceLandmarks?

    public init(box: Rect, probabilities: [Float], detectionScore: Float? = nil, landmarks: FaceLandmarks? = nil) {
        self.box = box
        self.probabilities = probabilities
        self.detectionScore = detectionScore
        self.landmarks = landmarks
    }

    /// The most probable emotion.
    public var emotion: Emotion { Emotion.mostProbable(probabilities) }

    /// The probability of `emotion`.
    public var confidence: Float { probabilities.max() ?? 0 }

    /// The detection this face came from.
    public var detectedFace: DetectedFace { DetectedFace(box: box, score: detectionScore, landmarks: landmarks) }
}

/// Detects faces in a photo and classifies each one's emotion: detect (any `FaceDetecting`), crop (faces with
/// landmarks framed like the training faces, `FaceFraming`; others widened by the model's face margin), resize to
/// the model input, preprocess exactly as the model file says, and run all faces of the photo through the model as
/// one batch.
///
/// Holds per-call buffers in its model and detector, so one recognizer serves one thread at a time.
public final class EmotionRecognizer {
    /// An `InferenceModel` for speed, or a trainable `Model` where explanations need its backward pass.
    public let model: any Classifier
    public let card: ModelCard
    public let detector: any FaceDetecting
    /// How faces with landmarks are cropped.
    public let framing: FaceFraming

    public init(model: any Classifier, card: ModelCard, detector: any FaceDetecting, framing: FaceFraming = .fer2013) {
        self.model = model
        self.card = card
        self.detector = detector
        self.framing = framing
    }

    /// A recognizer with the Haar cascade `detector` searching with `detection`.
    public convenience init(model: any Classifier, card: ModelCard, detector: FaceDetector,
                            detection: FaceDetector.DetectionParameters = .faceClassification) {
        self.init(model: model, card: card, detector: HaarDetector(detector: detector, parameters: detection))
    }

    /// Faces and emotions in `image` (detection on the colour image, classification on its luma); an empty array
    /// when no face is found.
    public func analyze(_ image: RGBImage) -> [FaceEmotion] {
        analyze(image, maximumFaces: .max).faces
    }

    /// Faces and emotions in `image` for at most `maximumFaces` faces, the largest boxes kept in detection order,
    /// and how many smaller detections were skipped (a bound on the work one image can cause).
    public func analyze(_ image: RGBImage, maximumFaces: Int) -> (faces: [FaceEmotion], skipped: Int) {
        let detected = detector.detect(in: image)
        guard !detected.isEmpty else { return ([], 0) }
        var kept = detected
        if detected.count > maximumFaces {
            let largest = detected.indices.sorted { detected[$0].box.area > detected[$1].box.area }
            kept = largest.prefix(max(maximumFaces, 0)).sorted().map { detected[$0] }
        }
        let faces = kept.isEmpty ? [] : classify(faces: kept, in: image.grayscale())
        return (faces, detected.count - kept.count)
    }

    /// Faces and emotions in a gray `image` (its channels repeated for the detector).
    public func analyze(_ image: GrayImage) -> [FaceEmotion] {
        let faces = detector.detect(in: image.rgb())
        return faces.isEmpty ? [] : classify(faces: faces, in: image)
    }

    /// Emotions for the given face `boxes` of `image` (no landmarks: each box widened by the card's margin).
    public func classify(faces boxes: [Rect], in image: GrayImage) -> [FaceEmotion] {
        classify(faces: boxes.map { DetectedFace(box: $0) }, in: image)
    }

    /// Emotions for the detected `faces` of `image`, with the test-time augmentation the model card names:
    /// every view of every face (`TestTimeAugmentation.views`) goes through the model in one batch and each
    /// face's probabilities are the mean over its views, calibrated by the card's temperature for those views.
    public func classify(faces: [DetectedFace], in image: GrayImage) -> [FaceEmotion] {
        let augmentation = card.testTimeAugmentation ?? .none
        let temperature = card.temperature(for: augmentation)
        let views = augmentation.views
        let input = inputBatch(faces.map { faceImage(for: $0, in: image) }, views: views)
        let probabilities = model.probabilities(input)
        let classes = model.architecture.classCount
        return faces.enumerated().map { slot, face in
            var values = (0..<classes).map { k in
                views.indices.reduce(Float(0)) { $0 + probabilities[(($1 * faces.count) + slot) * classes + k] }
                    / Float(views.count)
            }
            values.withUnsafeMutableBufferPointer {
                Calibration.scale($0.baseAddress!, classes: classes, temperature: temperature)
            }
            return FaceEmotion(box: face.box, probabilities: values, detectionScore: face.score,
                               landmarks: face.landmarks)
        }
    }

    /// The part of the image the model sees for `face` (not clamped: outside pixels repeat the edge): with
    /// landmarks, the square that frames them like the training faces, turned upright with the eye line; without,
    /// the box widened by the card's face margin.
    public func region(for face: DetectedFace) -> ImageRegion {
        if let landmarks = face.landmarks { return framing.crop(for: landmarks) }
        return ImageRegion(rect: face.box.expanded(byFraction: Double(card.preprocessing.faceMargin)))
    }

    /// The part of `image` the model sees for the face `box`: the box widened by the card's face margin, clamped
    /// to the image.
    public func region(for box: Rect, in image: GrayImage) -> Rect {
        region(for: DetectedFace(box: box)).rect.clamped(toWidth: image.width, height: image.height)
    }

    /// The face as the model sees it: `region(for:)` resampled upright to the model's input size `S x S`. A
    /// landmark crop reaching past the image keeps its framing (the edges repeat); a box crop is clamped to the
    /// image.
    public func faceImage(for face: DetectedFace, in image: GrayImage) -> GrayImage {
        let size = card.preprocessing.inputSize
        return image.sampled(sampledRegion(for: face, in: image), width: size, height: size)
    }

    /// The region of `image` that `faceImage(for:in:)` resamples: `region(for:)`, clamped to the image for a box
    /// crop; a landmark crop keeps its framing past the image's edges.
    public func sampledRegion(for face: DetectedFace, in image: GrayImage) -> ImageRegion {
        let region = region(for: face)
        guard face.landmarks == nil else { return region }
        return ImageRegion(rect: region.rect.clamped(toWidth: image.width, height: image.height))
    }

    /// The face at `box` as the model sees it: `region(for:in:)` resized to the model's input size `S x S`.
    public func faceImage(for box: Rect, in image: GrayImage) -> GrayImage {
        faceImage(for: DetectedFace(box: box), in: image)
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
