import EmovereData
import EmovereVision

/// Accuracy of the whole photo pipeline on a labelled set of face crops: each image is upscaled (so the detector
/// sees a face of photo size), the recognizer's detector finds the face, the face is cropped as in a photo
/// (landmark framing or box margin) and classified. Compared with classifying the crops directly, this measures
/// what detection and framing cost.
public struct DetectionEvaluation: Sendable {
    /// The confusion matrix of the predictions (images without a detected face are classified whole).
    public var matrix: ConfusionMatrix
    /// Images where the detector found no face.
    public var missed: Int
    public var accuracy: Double { matrix.accuracy }

    /// Evaluates `dataset` through `recognizer`, each image upscaled `upscale` times; `progress` gets the count done.
    public static func evaluate(_ dataset: FaceDataset, with recognizer: EmotionRecognizer, upscale: Int = 4,
                                progress: ((Int) -> Void)? = nil) throws -> DetectionEvaluation {
        var matrix = try ConfusionMatrix(classCount: recognizer.model.architecture.classCount)
        var missed = 0
        for index in 0..<dataset.count {
            let face = dataset.image(at: index)
            let image = face.resized(width: face.width * upscale, height: face.height * upscale)
            let found = recognizer.detector.detect(in: image.rgb())
            // The most confident face (YuNet), else the largest; the whole image when none is found.
            let best = found.max { ($0.score ?? 0, $0.box.area) < ($1.score ?? 0, $1.box.area) }
            if best == nil { missed += 1 }
            let chosen = best ?? DetectedFace(box: Rect(x: 0, y: 0, width: image.width, height: image.height))
            let result = recognizer.classify(faces: [chosen], in: image)[0]
            try matrix.record(actual: dataset.labels[index], predicted: result.emotion.rawValue)
            progress?(index + 1)
        }
        return DetectionEvaluation(matrix: matrix, missed: missed)
    }
}
