import ArgumentParser
import Emovere
import EmovereCore
import EmovereNN
import EmovereONNX
import EmovereTensor
import EmovereVision
import Foundation

extension DetectorKind: ExpressibleByArgument {}

/// The settings of each face detector, shared by every command that finds faces (`analyze`, `explain`, `video`,
/// `live`, `serve` choose the detector with `--detector`, `evaluate` with `--through-detector`).
struct FaceDetectorOptions: ParsableArguments {
    @Option(help: "YuNet ONNX file (default: the bundled \(YuNetDetector.bundledFileName)).")
    var yunetModel: String?

    @Option(help: "YuNet: smallest face score kept, in (0, 1] (default: \(YuNetDetector.Settings.standard.scoreThreshold)).")
    var scoreThreshold: Float?

    @Option(help: "YuNet: the longest side, in pixels, photos are scaled down to for detection (default: \(YuNetDetector.Settings.standard.workingSize)).")
    var detectionSize: Int?

    @Option(help: "Haar cascade XML (default: haarcascade_frontalface_default.xml from opencv-data).")
    var cascade: String?

    @Option(help: "Haar: smallest face side in pixels (default: no limit).")
    var minFace: Int?

    @Option(help: "Haar: detector scale factor (default: \(Self.haarDefaults.scaleFactor)).")
    var scaleFactor: Double?

    @Option(help: "Haar: detector minimum neighbours (default: \(Self.haarDefaults.minimumNeighbors)).")
    var minNeighbors: Int?

    /// Haar's parameters where its options are not given (the library's: face_classification's).
    static let haarDefaults = FaceDetector.DetectionParameters.faceClassification

    func validate() throws {
        // Each library check runs alone, so its message is given with the option it came from.
        func check(_ option: String, _ body: () throws -> Void) throws {
            do { try body() } catch { throw ValidationError("\(option): \(error)") }
        }
        if let scoreThreshold {
            try check("--score-threshold") { _ = try YuNetDetector.Settings(scoreThreshold: scoreThreshold) }
        }
        if let detectionSize {
            try check("--detection-size") { _ = try YuNetDetector.Settings(workingSize: detectionSize) }
        }
        if let scaleFactor {
            try check("--scale-factor") { _ = try FaceDetector.DetectionParameters(scaleFactor: scaleFactor) }
        }
        if let minNeighbors {
            try check("--min-neighbors") { _ = try FaceDetector.DetectionParameters(minimumNeighbors: minNeighbors) }
        }
        if let minFace, minFace < 0 { throw ValidationError("--min-face must be 0 or more, received \(minFace)") }
    }

    /// Throws when an option of one detector is given while another (or, with `kind` nil, none) is chosen: an
    /// ignored option would leave its user believing it took effect. `selector` is the option that chooses.
    func checkApplicable(to kind: DetectorKind?, chosenBy selector: String) throws {
        let specific: [(option: String, given: Bool, detector: DetectorKind)] = [
            ("--yunet-model", yunetModel != nil, .yunet), ("--score-threshold", scoreThreshold != nil, .yunet),
            ("--detection-size", detectionSize != nil, .yunet), ("--cascade", cascade != nil, .haar),
            ("--min-face", minFace != nil, .haar), ("--scale-factor", scaleFactor != nil, .haar),
            ("--min-neighbors", minNeighbors != nil, .haar),
        ]
        if let misplaced = specific.first(where: { $0.given && $0.detector != kind }) {
            let chosen = kind.map { "\($0.rawValue) is chosen" } ?? "no detector is chosen"
            throw ValidationError("\(misplaced.option) applies only with \(selector) \(misplaced.detector.rawValue); \(chosen)")
        }
    }

    /// `count` detectors of `kind`, one per worker (YuNet keeps per-call buffers); each file is read once.
    func makeDetectors(_ kind: DetectorKind, count: Int) throws -> [any FaceDetecting] {
        switch kind {
        case .none:
            return (0..<count).map { _ in WholeImageDetector() }
        case .haar:
            let cascadePath = try cascade ?? HaarCascade.locate().orThrow(ValidationError(
                "no Haar cascade found in \(HaarCascade.standardSearchPaths.joined(separator: ", ")); install opencv-data (apt-get install opencv-data) or pass --cascade"))
            let minimumSize = minFace.flatMap { $0 > 0 ? FaceDetector.WindowSize(width: $0, height: $0) : nil }
            let parameters = try FaceDetector.DetectionParameters(
                scaleFactor: scaleFactor ?? Self.haarDefaults.scaleFactor,
                minimumNeighbors: minNeighbors ?? Self.haarDefaults.minimumNeighbors, minimumSize: minimumSize)
            let haar = HaarDetector(detector: try FaceDetector(cascadePath: cascadePath), parameters: parameters,
                                    file: (cascadePath as NSString).lastPathComponent)
            return (0..<count).map { _ in haar }
        case .yunet:
            let standard = YuNetDetector.Settings.standard
            let settings = try YuNetDetector.Settings(scoreThreshold: scoreThreshold ?? standard.scoreThreshold,
                                                      workingSize: detectionSize ?? standard.workingSize)
            let network: ONNXGraph
            if let yunetModel {
                network = try ONNXImporter.graph(contentsOf: yunetModel)
            } else {
                let bundled = try BundledModel.yunet(remedy: "pass --yunet-model, or choose --detector haar")
                network = try ONNXImporter.graph(bytes: bundled.bytes, source: bundled.path)
            }
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

    @Option(help: "Face detector: yunet (CNN with landmarks), haar (OpenCV's cascade) or none (the whole image is one face).")
    var detector: DetectorKind = .yunet

    @OptionGroup var face: FaceDetectorOptions

    func validate() throws {
        try face.checkApplicable(to: detector, chosenBy: "--detector")
    }

    /// The files these options name or use (the model, the YuNet model and the cascade, named or the defaults): inputs
    /// no output may overwrite. A missing default file is reported when it is loaded.
    var inputFiles: [String] {
        let yunet = face.yunetModel ?? (detector == .yunet
            ? try? BundledModel.locate(fileName: YuNetDetector.bundledFileName, environment: nil) : nil)
        let cascade = face.cascade ?? (detector == .haar ? HaarCascade.locate() : nil)
        return [try? modelPath(), yunet, cascade].compactMap { $0 }
    }

    /// `count` recognizers (one per worker thread), each with its own detector and an `InferenceModel` copy in
    /// `precision`, which splits a batch over its share of the workers.
    func makeRecognizers(count: Int, precision: Precision) throws -> [EmotionRecognizer] {
        precision.noteFallback()
        return try makeRecognizers(count: count) { loaded in
            let prepared = try loaded.inferenceModel(precision: precision)
            prepared.maximumCopies = max(1, Parallel.workerCount / count)
            return prepared
        }
    }

    /// One recognizer on the trainable model, whose backward pass explanations need.
    func makeTrainableRecognizer() throws -> EmotionRecognizer {
        try makeRecognizers(count: 1) { $0 }[0]
    }

    /// The model file: `--model`, or the bundled model.
    func modelPath() throws -> String {
        try model ?? BundledModel.locate()
    }

    private func makeRecognizers(count: Int, network: (Model) throws -> any Classifier) throws -> [EmotionRecognizer] {
        let modelPath = try modelPath()
        let detectors = try face.makeDetectors(detector, count: count)
        return try detectors.map { detector in
            let (loaded, loadedCard) = try ModelFile.load(modelPath)
            var card = loadedCard
            if let tta { card.testTimeAugmentation = tta == .none ? nil : tta }
            return EmotionRecognizer(model: try network(loaded), card: card, detector: detector)
        }
    }
}
