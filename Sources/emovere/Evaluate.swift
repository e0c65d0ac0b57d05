import ArgumentParser
import Emovere
import EmovereData
import EmovereVision
import Foundation

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on a labelled split: accuracy, macro-F1, per-class metrics, confusion matrix.")

    @Option(help: "Model file (.safetensors).")
    var model: String

    @Option(help: "FER2013 data: fer2013.csv or a folder with class folders.")
    var data: String

    @Option(help: "Split: training, publictest (test) or privatetest.")
    var split = "publictest"

    @Option(help: "Test-time augmentation: none, flip or ten-crop (default: the model card's, else none).")
    var tta: TestTimeAugmentation?

    @Flag(help: "Print the report as JSON instead of a table.")
    var json = false

    @Option(help: "Also write the JSON report to this file.")
    var output: String?

    @Option(help: ArgumentHelp(
        "Classify through a face detector: each image is upscaled 4x, the face detected and cropped as in a photo "
            + "(yunet or haar; the detector options below apply).", valueName: "detector"))
    var throughDetector: DetectorKind?

    @OptionGroup(title: "Detector options (with --through-detector)") var detection: FaceDetectorOptions

    @Flag(help: ArgumentHelp(
        "Run the corruption benchmark: accuracy under \(Corruption.allCases.count) camera corruptions (blur, low resolution, "
            + "noise, JPEG, exposure, contrast, gamma, occlusion, rotation, framing) at severities 1-5, with fixed seeds; "
            + "with --record it is stored in the card."))
    var corruptions = false

    @Option(parsing: .upToNextOption, help: "With --corruptions: the severities to run (1-5; default all). Severity 3 alone gives a quick estimate.")
    var severities: [Int] = Array(Corruption.severities)

    @Flag(help: "Treat malformed data rows or files as fatal errors.")
    var strict = false

    @Flag(help: "Record the report in the model file's card (accuracy, macro-F1, per-class metrics, confusion matrix).")
    var record = false

    @Flag(help: "With --record: also make this test-time augmentation the model's default (analyze, video and serve use flip).")
    var adoptTta = false

    @Option(help: "With --record: a note for the card (e.g. what an experiment showed); repeat for more.")
    var note: [String] = []

    func validate() throws {
        if adoptTta && (!record || tta == nil) {
            throw ValidationError("--adopt-tta needs --record and an explicit --tta")
        }
        if !note.isEmpty && !record { throw ValidationError("--note needs --record") }
        if throughDetector != nil && (record || json || output != nil) {
            throw ValidationError("--through-detector prints a comparison only; it cannot be combined with --record, --json or --output")
        }
        if corruptions && (throughDetector != nil || adoptTta) {
            throw ValidationError("--corruptions cannot be combined with --through-detector or --adopt-tta")
        }
        if let severity = severities.first(where: { !Corruption.severities.contains($0) }) {
            throw ValidationError("--severities must be between 1 and 5, received \(severity)")
        }
        if severities != Array(Corruption.severities) && !corruptions {
            throw ValidationError("--severities needs --corruptions")
        }
        if throughDetector == DetectorKind.none {
            throw ValidationError("--through-detector needs a detector (yunet or haar); without one, leave it out")
        }
    }

    func run() throws {
        guard let split = Split(argument: split) else {
            throw ValidationError("unknown --split '\(self.split)'; expected one of \(Split.argumentNames.joined(separator: ", "))")
        }
        let (network, card) = try ModelFile.load(model, foldedForInference: true)
        let tta = self.tta ?? card.testTimeAugmentation ?? .none
        if corruptions {
            let evaluator = Evaluator(model: network, preprocessing: card.preprocessing, testTimeAugmentation: tta)
            return try runCorruptionBenchmark(evaluator, split: split)
        }
        let dataset = try CommandSupport.load(path: data, split: split, strict: strict,
                                              imageSize: card.preprocessing.inputSize)
        if let throughDetector {
            var options = detection
            options.detector = throughDetector
            var recognizerCard = card
            recognizerCard.testTimeAugmentation = tta == .none ? nil : tta
            let recognizer = EmotionRecognizer(model: network, card: recognizerCard,
                                               detector: try options.makeDetectors(count: 1)[0])
            let progress = ProgressBar(total: dataset.count, label: "evaluate through \(throughDetector.rawValue)")
            let result = try DetectionEvaluation.evaluate(dataset, with: recognizer) { progress.update(completed: $0) }
            progress.finish()
            let direct = try Evaluator(model: network, preprocessing: card.preprocessing, testTimeAugmentation: tta)
                .evaluate(dataset)
            print(String(format: "%@ (%@, TTA %@): direct %.2f %%, through %@ %.2f %% (%+.2f points); no face found in %d of %d",
                         split.usage, model, tta.rawValue, 100 * direct.accuracy, throughDetector.rawValue,
                         100 * result.accuracy, 100 * (result.accuracy - direct.accuracy), result.missed, dataset.count))
            return
        }
        let progress = ProgressBar(total: dataset.count, label: "evaluate")
        let stopwatch = Stopwatch()
        let result = try Evaluator(model: network, preprocessing: card.preprocessing, testTimeAugmentation: tta)
            .evaluate(dataset) { progress.update(completed: $0) }
        progress.finish()
        let report = try ClassificationReport(
            matrix: result.matrix, model: model, split: split.usage, count: dataset.count,
            testTimeAugmentation: tta.rawValue)
        if json {
            print(String(decoding: try report.jsonData(), as: UTF8.self))
        } else {
            print(report.table())
            print(String(format: "%d images in %.1f s (%.0f images/s)", dataset.count, stopwatch.elapsedSeconds,
                         Double(dataset.count) / max(stopwatch.elapsedSeconds, 1e-9)))
        }
        if let output { try AtomicFile.write(String(decoding: try report.jsonData(), as: UTF8.self) + "\n", to: output) }
        if record {
            let (original, card) = try ModelFile.load(model)
            var updated = card
            var stored = report
            stored.model = nil
            updated.evaluation = stored
            if adoptTta { updated.testTimeAugmentation = tta == .none ? nil : tta }
            // e.g. publicTestAccuracy, publicTestAccuracyFlip, publicTestMacroF1TenCrop
            let prefix = split.usage.prefix(1).lowercased() + split.usage.dropFirst()
            let suffix = switch tta {
            case .none: ""
            case .flip: "Flip"
            case .tenCrop: "TenCrop"
            }
            updated.metrics["\(prefix)Accuracy\(suffix)"] = report.accuracy
            updated.metrics["\(prefix)MacroF1\(suffix)"] = report.macroF1
            updated.notes.removeAll { $0.hasPrefix("evaluation:") }
            updated.notes.append("evaluation: the report is \(split.usage), test-time augmentation \(tta.rawValue), \(dataset.count) images")
            updated.notes += note.filter { !updated.notes.contains($0) }
            try ModelFile.save(original, card: updated, to: model)
            FileHandle.standardError.write(Data("recorded the report in \(model) and \(ModelFile.cardPath(for: model))\n".utf8))
        }
    }

    private func runCorruptionBenchmark(_ evaluator: Evaluator, split: Split) throws {
        let dataset = try CommandSupport.load(path: data, split: split, strict: strict, imageSize: Corruption.referenceSize)
        let benchmark = CorruptionBenchmark(evaluator: evaluator, severities: Array(Set(severities)).sorted())
        let evaluations = 1 + benchmark.corruptions.count * benchmark.severities.count
        let progress = ProgressBar(total: evaluations * dataset.count, label: "corruptions")
        let report = try benchmark.run(dataset) { done, _ in progress.update(completed: done * dataset.count) }
        progress.finish()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = String(decoding: try encoder.encode(report), as: UTF8.self)
        print(self.json ? json : "\(split.usage), test-time augmentation \(evaluator.testTimeAugmentation.rawValue):\n" + report.table())
        if let output { try AtomicFile.write(json + "\n", to: output) }
        if record {
            let (original, card) = try ModelFile.load(model)
            var updated = card
            updated.robustness = report
            let prefix = split.usage.prefix(1).lowercased() + split.usage.dropFirst()
            updated.metrics["\(prefix)MeanCorruptionAccuracy"] = report.meanAccuracy
            updated.notes.removeAll { $0.hasPrefix("robustness:") }
            updated.notes.append("robustness: the corruption benchmark on \(split.usage), test-time augmentation "
                                 + "\(evaluator.testTimeAugmentation.rawValue), \(dataset.count) images")
            updated.notes += note.filter { !updated.notes.contains($0) }
            try ModelFile.save(original, card: updated, to: model)
            FileHandle.standardError.write(Data("recorded the corruption report in \(model) and \(ModelFile.cardPath(for: model))\n".utf8))
        }
    }
}

extension TestTimeAugmentation: ExpressibleByArgument {}
