import ArgumentParser
import Emovere
import EmovereCore
import EmovereNN
import EmovereONNX
import EmovereVision
import Foundation

extension DetectorKind: ExpressibleByArgument {}

/// The face-detector options of every command that finds faces (`analyze`, `explain`, `video`, `live`, `serve`,
/// and `evaluate --through-detector`).
struct FaceDetectorOptions: ParsableArguments {
    @Option(help: "Face detector: yunet (CNN with landmarks), haar (OpenCV's cascade) or none (the whole image is one face).")
    var detector: DetectorKind = .yunet

    @Option(help: "YuNet ONNX file (default: the bundled \(YuNetDetector.bundledFileName)).")
    var yunetModel: String?

    @Option(help: "YuNet: smallest face score kept, in (0, 1].")
    var scoreThreshold: Float = 0.6

    @Option(help: "YuNet: the longest side, in pixels, photos are scaled down to for detection.")
    var detectionSize = 640

    @Option(help: "Haar cascade XML (default: haarcascade_frontalface_default.xml from opencv-data).")
    var cascade: String?

    @Option(help: "Haar: smallest face side in pixels.")
    var minFace = 0

    @Option(help: "Haar: detector scale factor.")
    var scaleFactor = 1.3

    @Option(help: "Haar: detector minimum neighbours.")
    var minNeighbors = 5

    func validate() throws {
        // Each library check runs alone, so its message is given with the option it came from.
        func check(_ option: String, _ body: () throws -> Void) throws {
            do { try body() } catch { throw ValidationError("\(option): \(error)") }
        }
        try check("--score-threshold") { _ = try YuNetDetector.Settings(scoreThreshold: scoreThreshold) }
        try check("--detection-size") { _ = try YuNetDetector.Settings(workingSize: detectionSize) }
        try check("--scale-factor") { _ = try FaceDetector.DetectionParameters(scaleFactor: scaleFactor) }
        try check("--min-neighbors") { _ = try FaceDetector.DetectionParameters(minimumNeighbors: minNeighbors) }
        guard minFace >= 0 else { throw ValidationError("--min-face must be 0 or more, received \(minFace)") }
    }

    /// `count` detectors, one per worker (YuNet keeps per-call buffers); each file is read once.
    func makeDetectors(count: Int) throws -> [any FaceDetecting] {
        switch detector {
        case .none:
            return (0..<count).map { _ in WholeImageDetector() }
        case .haar:
            let cascadePath = try cascade ?? HaarCascade.locate().orThrow(ValidationError(
                "no Haar cascade found in \(HaarCascade.standardSearchPaths.joined(separator: ", ")); install opencv-data (apt-get install opencv-data) or pass --cascade"))
            let parameters = try FaceDetector.DetectionParameters(
                scaleFactor: scaleFactor, minimumNeighbors: minNeighbors,
                minimumSize: minFace > 0 ? FaceDetector.WindowSize(width: minFace, height: minFace) : nil)
            let haar = HaarDetector(detector: try FaceDetector(cascadePath: cascadePath), parameters: parameters,
                                    file: (cascadePath as NSString).lastPathComponent)
            return (0..<count).map { _ in haar }
        case .yunet:
            let path = try yunetModel ?? BundledModel.locate(fileName: YuNetDetector.bundledFileName, environment: nil)
            let settings = try YuNetDetector.Settings(scoreThreshold: scoreThreshold, workingSize: detectionSize)
            let network = try ONNXImporter.graph(contentsOf: path)
            return try (0..<count).map { _ in try YuNetDetector(network: network, settings: settings) }
        }
    }

}

/// The model and face-detector options of every command that finds faces (`analyze`, `explain`, `video`, `live`,
/// `serve`).
struct DetectorOptions: ParsableArguments {
    @Option(help: "Model file (default: the bundled model).")
    var model: String?

    @Option(help: "Test-time augmentation (default: the model card's).")
    var tta: TestTimeAugmentation?

    @OptionGroup var face: FaceDetectorOptions

    /// The files these options name (model, YuNet model, cascade): inputs no output may overwrite.
    var inputFiles: [String] {
        [model, face.yunetModel, face.cascade].compactMap { $0 }
    }

    /// `count` recognizers (one per worker thread), each with its own detector and model copy: an `InferenceModel`
    /// unless `trainable` (explanations need the model's backward pass).
    func makeRecognizers(count: Int, trainable: Bool = false) throws -> [EmotionRecognizer] {
        let modelPath = try model ?? BundledModel.locate()
        let detectors = try face.makeDetectors(count: count)
        return try detectors.map { detector in
            let (loaded, loadedCard) = try ModelFile.load(modelPath)
            let network: any Classifier
            if trainable {
                network = loaded
            } else {
                let prepared = try loaded.inferenceModel()
                // The recognizers run side by side: each splits a batch over its share of the workers.
                prepared.maximumCopies = max(1, Parallel.workerCount / count)
                network = prepared
            }
            var card = loadedCard
            if let tta { card.testTimeAugmentation = tta == .none ? nil : tta }
            return EmotionRecognizer(model: network, card: card, detector: detector)
        }
    }
}
