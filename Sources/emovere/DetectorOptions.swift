import ArgumentParser
import Emovere
import EmovereVision

/// The model and face-detector options of every command that finds faces (`analyze`, `explain`, `video`, `live`).
struct DetectorOptions: ParsableArguments {
    @Option(help: "Model file (default: the bundled model).")
    var model: String?

    @Option(help: "Haar cascade XML (default: haarcascade_frontalface_default.xml from opencv-data).")
    var cascade: String?

    @Option(help: "Smallest face side in pixels.")
    var minFace = 0

    @Option(help: "Detector scale factor.")
    var scaleFactor = 1.3

    @Option(help: "Detector minimum neighbours.")
    var minNeighbors = 5

    @Option(help: "Test-time augmentation: none, flip or ten-crop (default: the model card's).")
    var tta: TestTimeAugmentation?

    /// `count` recognizers (one per worker thread) sharing one detector, each with its own model copy: folded for
    /// faster inference unless `foldedForInference` is false (needed to explain predictions).
    func makeRecognizers(count: Int, foldedForInference: Bool = true) throws -> [EmotionRecognizer] {
        let modelPath = try model ?? BundledModel.locate()
        let cascadePath = try cascade ?? HaarCascade.locate().orThrow(ValidationError(
            "no Haar cascade found in \(HaarCascade.standardSearchPaths.joined(separator: ", ")); install opencv-data (apt-get install opencv-data) or pass --cascade"))
        let parameters = try FaceDetector.DetectionParameters(
            scaleFactor: scaleFactor, minimumNeighbors: minNeighbors,
            minimumSize: minFace > 0 ? FaceDetector.WindowSize(width: minFace, height: minFace) : nil)
        let detector = try FaceDetector(cascadePath: cascadePath)
        return try (0..<count).map { _ in
            let (network, loadedCard) = try ModelFile.load(modelPath, foldedForInference: foldedForInference)
            var card = loadedCard
            if let tta { card.testTimeAugmentation = tta == .none ? nil : tta }
            return EmotionRecognizer(model: network, card: card, detector: detector, detection: parameters)
        }
    }
}
