import ArgumentParser
import Emovere
import EmovereCore
import EmovereData
import EmovereFiles
import EmovereNN
import EmovereReport
import EmovereTensor
import EmovereVision
import Foundation

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on a labelled split: accuracy, macro-F1, per-class metrics, confusion matrix.")

    @Option(help: "Model file (.safetensors).")
    var model: String

    @Option(help: "FER2013 data: fer2013.csv or a folder with train/ and test/ class folders (or train/, val/ and test/: val/ is PublicTest, test/ PrivateTest).")
    var data: String

    @Option(name: .customLong("split"),
            help: "Split: training, publictest (test) or privatetest, in any case (default: publictest).")
    var chosenSplit: Split?

    /// The split evaluated: `--split`, or PublicTest.
    var split: Split { chosenSplit ?? .publicTest }

    @Option(help: "Test-time augmentation (default: the model card's, else none).")
    var tta: TestTimeAugmentation?

    @Flag(help: "Print the report as JSON instead of a table.")
    var json = false

    @Option(help: "Also write the JSON report to this file.")
    var output: String?

    @Option(help: ArgumentHelp(
        "Classify through a face detector: each image is upscaled 4x, the face detected and cropped as in a photo "
            + "(the detector options below apply).", valueName: "yunet|haar"), transform: Evaluate.detector(through:))
    var throughDetector: DetectorKind?

    /// `--through-detector`'s value: a detector that finds faces (`none` would classify the image as it is).
    static func detector(through text: String) throws -> DetectorKind {
        guard let kind = DetectorKind(rawValue: text), kind != .none else {
            throw ValidationError("--through-detector needs a detector, yunet or haar, received '\(text)'; to classify the images as they are, leave it out")
        }
        return kind
    }

    @OptionGroup(title: "Detector options (with --through-detector)") var detection: FaceDetectorOptions

    @Flag(help: ArgumentHelp(
        "Run the corruption benchmark: accuracy under \(Corruption.allCases.count) camera corruptions (blur, low resolution, "
            + "noise, JPEG, exposure, contrast, gamma, occlusion, rotation, framing) at severities 1-5, with fixed seeds; "
            + "with --record its mean is stored in the card, and its table when single view (--tta none); with --through-detector each corrupted image is upscaled, detected "
            + "and cropped as in a photo."))
    var corruptions = false

    @Option(parsing: .upToNextOption, help: "With --corruptions: the severities to run (1-5; default all). Severity 3 alone gives a quick estimate.")
    var severities: [Int] = []

    @Option(name: .customLong("corruption"), help: ArgumentHelp(
        "With --corruptions: run only this corruption (repeat for more; default all).", valueName: "name"))
    var chosenCorruptions: [Corruption] = []

    @Option(help: ArgumentHelp(
        "Write a reliability diagram (accuracy against confidence in 15 bins, with the expected calibration error) as SVG.",
        valueName: "file.svg"))
    var reliabilityDiagram: String?

    @Flag(help: """
        Fit the temperature that calibrates the probabilities on the part of Training the model's recipe held out for \
        validation (train with --validation-fraction), for this run's test-time augmentation, then evaluate with it; \
        --record stores it in the card, and every command applies it wherever it averages the same views.
        """)
    var fitTemperature = false

    @OptionGroup var arithmetic: PrecisionOptions

    @Flag(help: "Treat malformed data rows or files as fatal errors.")
    var strict = false

    @Flag(help: "Record the figures in the model file's card: accuracy and macro-F1 under the split's and views' names, and with the card's own views (or --adopt-tta) the whole report (per-class metrics, confusion matrix, calibration error).")
    var record = false

    @Flag(help: "With --record: also make this test-time augmentation the model's default (analyze, explain, video, live and serve use it).")
    var adoptTta = false

    @Option(help: "With --record: a note for the card (e.g. what an experiment showed); repeat for more.")
    var note: [String] = []

    @Flag(help: "With --record: replace figures the card holds from another number of images of the split (refused otherwise, so a subset's figures never silently replace the whole split's).")
    var replaceFigures = false

    func validate() throws {
        if adoptTta && (!record || tta == nil) {
            throw ValidationError("--adopt-tta needs --record and an explicit --tta")
        }
        if adoptTta && split != .publicTest {
            throw ValidationError("--adopt-tta chooses the card's view on the validation split (publictest); PrivateTest stays the untouched test, received --split \(split.usage)")
        }
        if reliabilityDiagram != nil && (corruptions || throughDetector != nil) {
            throw ValidationError("--reliability-diagram draws the plain evaluation's bins; it cannot be combined with --corruptions or --through-detector")
        }
        if fitTemperature && split == .training {
            throw ValidationError("--fit-temperature fits on held-out Training images: evaluate another split (publictest)")
        }
        if !note.isEmpty && !record { throw ValidationError("--note needs --record") }
        if replaceFigures && !record { throw ValidationError("--replace-figures needs --record") }
        if note.contains(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
            throw ValidationError("--note needs some text, received an empty note")
        }
        let topics = ModelCard.recordedNoteTopics
        if let reserved = note.first(where: { text in topics.contains { text.hasPrefix("\($0):") } }) {
            let prefixes = topics.map { "\"\($0):\"" }.joined(separator: " or ")
            throw ValidationError("--note may not start with \(prefixes) (--record writes and replaces those notes), received \"\(reserved)\"")
        }
        try OutputPaths.checkDistinct([("--output", output), ("--reliability-diagram", reliabilityDiagram)],
                                      inputs: [model, ModelFile.cardPath(for: model), data]
                                        + (record ? [try ModelFile.savedCardPath(for: model)] : []),
                                      inputName: "the model, its card or the data")
        if let reliabilityDiagram {
            try OutputPaths.checkFileName(reliabilityDiagram, option: "--reliability-diagram", kind: "an SVG file",
                                          extensions: ["svg"])
        }
        if throughDetector != nil && (record || json || output != nil) {
            throw ValidationError("--through-detector prints a comparison only; it cannot be combined with --record, --json or --output")
        }
        if corruptions && adoptTta {
            throw ValidationError("--corruptions cannot be combined with --adopt-tta")
        }
        if let severity = severities.first(where: { !Corruption.severities.contains($0) }) {
            throw ValidationError("--severities must be between 1 and 5, received \(severity)")
        }
        if !severities.isEmpty && !corruptions {
            throw ValidationError("--severities needs --corruptions")
        }
        if !chosenCorruptions.isEmpty && !corruptions {
            throw ValidationError("--corruption needs --corruptions")
        }
        if !severities.isEmpty && Set(severities) != Set(Corruption.severities) && record {
            throw ValidationError("--record stores the whole benchmark, severities 1-5, in the card: leave out --severities")
        }
        if !chosenCorruptions.isEmpty && Set(chosenCorruptions) != Set(Corruption.allCases) && record {
            throw ValidationError("--record stores the whole benchmark, every corruption, in the card: leave out --corruption")
        }
        if fitTemperature && (corruptions || throughDetector != nil) {
            throw ValidationError("--fit-temperature cannot be combined with --corruptions or --through-detector")
        }
        try detection.checkApplicable(to: throughDetector, chosenBy: "--through-detector")
        if record && arithmetic.precision != .float32 {
            throw ValidationError("--record stores the card's figures, measured in float32: leave out --precision \(arithmetic.precision)")
        }
    }

    func run() throws {
        arithmetic.precision.noteFallback()
        // Taken before loading: figures are recorded only into the card of the weights they were measured on.
        let weights = record ? try ModelFile.weightsDigest(atPath: model) : nil
        let (network, card) = try ModelFile.loadForInference(model, precision: arithmetic.precision)
        let tta = self.tta ?? card.testTimeAugmentation ?? .none
        var evaluator = Evaluator(model: network, preprocessing: card.preprocessing, testTimeAugmentation: tta,
                                  temperature: card.temperature(for: tta))
        if corruptions, let throughDetector {
            return try runCorruptionsThroughDetector(throughDetector, evaluator: evaluator, network: network, card: card)
        }
        if corruptions { return try runCorruptionBenchmark(evaluator, card: card, weights: weights) }
        // Through a detector each face is FER2013's own 48 px image made into a photo (as the corruption benchmark's
        // are; the direct line resizes it as the loader would), not one already enlarged to a 64 px model's input.
        let (dataset, loaded) = try CommandSupport.loadWithReport(
            path: data, split: split, strict: strict,
            imageSize: throughDetector == nil ? card.preprocessing.inputSize : Corruption.referenceSize)
        try Self.checkRecordable(loaded, record: record, data: data, split: split)
        try checkSameImages(card: card, figures: .evaluation, count: dataset.count)
        if fitTemperature { evaluator.temperature = try fittedTemperature(evaluator, card: card) }
        if let throughDetector {
            let recognizer = try recognizer(throughDetector, network: network, card: card, tta: tta)
            let progress = ProgressBar(total: dataset.count, label: "evaluate through \(throughDetector.rawValue)")
            let line = try compareThroughDetector(dataset, recognizer: recognizer, evaluator: evaluator) {
                progress.update(completed: $0)
            }
            progress.finish()
            print("\(split.usage) (\(model.escapedForOneLine), TTA \(tta.rawValue)): \(line)")
            return
        }
        let progress = ProgressBar(total: dataset.count, label: "evaluate")
        let stopwatch = Stopwatch()
        let result = try evaluator.evaluate(dataset) { progress.update(completed: $0) }
        progress.finish()
        var report = try ClassificationReport(
            matrix: result.matrix, model: model, split: split.usage, count: dataset.count,
            testTimeAugmentation: tta.rawValue)
        let bins = Calibration.bins(probabilities: result.probabilities, labels: dataset.labels,
                                    classes: network.architecture.classCount)
        report.expectedCalibrationError = Calibration.expectedError(bins)
        report.temperature = evaluator.temperature == 1 ? nil : evaluator.temperature
        if let reliabilityDiagram {
            let calibrated = evaluator.temperature == 1 ? "" : String(format: ", temperature %.3f", evaluator.temperature)
            let title = "\(URL(fileURLWithPath: model).lastPathComponent), \(split.usage), TTA \(tta.rawValue)\(calibrated)"
            try AtomicFile.write(ReliabilityDiagram.svg(bins, title: title), to: reliabilityDiagram)
        }
        if json {
            print(String(decoding: try report.jsonData(), as: UTF8.self))
        } else {
            print(report.table())
            print(String(format: "%d images in %.1f s (%.0f images/s)", dataset.count, stopwatch.elapsedSeconds,
                         Double(dataset.count) / max(stopwatch.elapsedSeconds, 1e-9)))
        }
        if let output { try AtomicFile.write(String(decoding: try report.jsonData(), as: UTF8.self) + "\n", to: output) }
        if record {
            var cardViews = TestTimeAugmentation.none
            try ModelFile.editCard(at: model, weights: weights) { card in
                if adoptTta { card.testTimeAugmentation = tta == .none ? nil : tta }  // first: its report is stored
                cardViews = card.testTimeAugmentation ?? .none
                card.record(evaluation: report, split: split.usage, testTimeAugmentation: tta, imageCount: dataset.count,
                            notes: note, replacingOtherImages: replaceFigures)
                if fitTemperature {
                    var temperatures = card.temperatures ?? [:]
                    temperatures[tta] = evaluator.temperature
                    card.temperatures = temperatures
                }
            }
            let what = tta == cardViews ? "the report" : "the accuracy and macro-F1 with \(tta.rawValue) (the card keeps the report of its own views, \(cardViews.rawValue))"
            StandardError.write("recorded \(what) in \(model) and \(try ModelFile.savedCardPath(for: model))\n")
        }
    }

    /// Refuses `--record` (unless `--replace-figures`) of `figures` measured on `count` images when the card holds
    /// figures of another number of images of the split: a subset's would replace the whole split's.
    private func checkSameImages(card: ModelCard, figures: ModelCard.RecordedFigures, count: Int) throws {
        guard record, !replaceFigures,
              let recorded = card.recordedImageCount(of: figures, split: split.usage), recorded != count else { return }
        let kind = figures == .evaluation ? "figures" : "a corruption benchmark"
        throw CommandFailure("--record: \(model)'s card holds \(kind) of \(recorded) images of \(split.usage), this data has \(count); measure the same images, or add --replace-figures to replace them")
    }

    /// Refuses `--record` of figures measured on data that has no split of its own: they would be stored under a
    /// split's name (PublicTest accuracy measured on Training images).
    private static func checkRecordable(_ report: LoadReport, record: Bool, data: String, split: Split) throws {
        guard record, report.readsEverySplit else { return }
        throw CommandFailure("--record: \(data) has no \(split.usage) split of its own (\(report.source) is read whole for every split); the card keeps figures by split, so give data with train/ and test/ folders or a Usage column")
    }

    /// The temperature that minimises the negative log-likelihood on the Training images the model's recipe held out
    /// (never on the split being evaluated), printed with the calibration error before and after.
    private func fittedTemperature(_ evaluator: Evaluator, card: ModelCard) throws -> Float {
        guard let recipe = card.recipe else {
            throw CommandFailure("--fit-temperature: \(model) has no training recipe in its card (an imported or averaged model), so which Training images it never saw is unknown")
        }
        if !recipe.startingWeights.isEmpty {
            throw CommandFailure("--fit-temperature: \(model) started from \(recipe.startingWeights.joined(separator: ", ")), which may have trained on the Training images its recipe holds out; fit the temperature of a model trained from scratch with --validation-fraction")
        }
        guard recipe.validationHoldOut != nil else {
            throw CommandFailure("""
                --fit-temperature: \(model) was trained on all of Training, so no Training image is held out to fit a \
                temperature on (fitting on images the model saw misleads it); train with --validation-fraction
                """)
        }
        let (training, report) = try CommandSupport.loadWithReport(path: data, split: .training, strict: strict,
                                                                   imageSize: card.preprocessing.inputSize)
        guard !report.readsEverySplit else {
            throw CommandFailure("--fit-temperature: \(data) has no Training split of its own (\(report.source) is read whole for every split), so the held-out images would be among those evaluated; give data with train/ and test/ folders or a Usage column")
        }
        // Images the model was trained on make it look more (or less) confident than on new faces: on `robust` with
        // ten-crop a temperature fitted on them raised PublicTest's calibration error from 3.6 % to 11.6 % (README).
        guard let (_, heldOut) = recipe.holdingOut(from: training) else {
            throw CommandFailure("""
                --fit-temperature: \(model) was trained on all of Training, so no Training image is held out to fit a \
                temperature on (fitting on images the model saw misleads it); train with --validation-fraction
                """)
        }
        if let recorded = card.heldOutDigest {
            guard heldOut.contentDigest == recorded else {
                throw CommandFailure("--fit-temperature: the Training images \(data) holds out under the recipe are not those the model's run held out (their digest differs from the card's heldOutDigest), so some may be images it trained on; give the data it was trained on (a model trained before copies of kept images were left out of the held-out images, on 2026-12-07, cannot be fitted: train it again)")
            }
        } else {
            StandardError.write("warning: \(model)'s card records no digest of its held-out images (trained by an earlier version), so whether \(data) is the data it was trained on is not checked\n")
        }
        guard heldOut.count >= Self.minimumHeldOutImages else {
            throw CommandFailure("--fit-temperature: the recipe holds out \(heldOut.count) of the \(training.count) Training images of \(data) (each class's share rounded); a temperature needs at least \(Self.minimumHeldOutImages)")
        }
        let fit = try evaluator.fittedTemperature(on: heldOut)
        if let bound = fit.boundReached {
            throw CommandFailure(String(format: "--fit-temperature: the best temperature on the %d held-out images lies at the search's bound (%g), outside 0.1-10: the held-out images cannot calibrate this model", fit.imageCount, bound))
        }
        StandardError.write(String(
            format: "temperature %.3f fitted on %d held-out Training images: expected calibration error %.2f %% -> %.2f %%\n",
            fit.temperature, fit.imageCount, 100 * fit.errorBefore, 100 * fit.errorAfter))
        return fit.temperature
    }

    /// The fewest held-out images `--fit-temperature` fits on.
    static let minimumHeldOutImages = 10

    /// The corruptions `--corruptions` runs: those `--corruption` names (in the benchmark's order), else all.
    private var benchmarkCorruptions: [Corruption] {
        chosenCorruptions.isEmpty ? Corruption.allCases : Corruption.allCases.filter(chosenCorruptions.contains)
    }

    /// The severities `--corruptions` runs: those `--severities` names (once each, in order), else 1-5.
    private var benchmarkSeverities: [Int] {
        severities.isEmpty ? Array(Corruption.severities) : Array(Set(severities)).sorted()
    }

    /// The recognizer `--through-detector` classifies with: the model with `tta` and the chosen detector.
    private func recognizer(_ kind: DetectorKind, network: any Classifier, card: ModelCard,
                            tta: TestTimeAugmentation) throws -> EmotionRecognizer {
        var recognizerCard = card
        recognizerCard.testTimeAugmentation = tta == .none ? nil : tta
        return EmotionRecognizer(model: network, card: recognizerCard,
                                 detector: try detection.makeDetectors(kind, count: 1)[0])
    }

    /// `dataset` classified directly and through `recognizer`'s detector, as one line of text.
    private func compareThroughDetector(_ dataset: FaceDataset, recognizer: EmotionRecognizer, evaluator: Evaluator,
                                        progress: ((Int) -> Void)? = nil) throws -> String {
        let result = try DetectionEvaluation.evaluate(dataset, with: recognizer, progress: progress)
        let direct = try evaluator.evaluate(dataset.resized(to: evaluator.preprocessing.inputSize))
        return String(format: "direct %.2f %%, through %@ %.2f %% (%+.2f points); no face found in %d of %d",
                      100 * direct.accuracy, recognizer.detector.description.kind.rawValue, 100 * result.accuracy,
                      100 * (result.accuracy - direct.accuracy), result.missed, dataset.count)
    }

    /// The corruption benchmark's images (its seeds, the chosen corruptions and severities) classified directly and
    /// through a detector, one line each: what detection and framing gain or lose on degraded faces.
    private func runCorruptionsThroughDetector(_ kind: DetectorKind, evaluator: Evaluator, network: any Classifier,
                                               card: ModelCard) throws {
        let (dataset, _) = try CommandSupport.loadWithReport(path: data, split: split, strict: strict,
                                                             imageSize: Corruption.referenceSize)
        let recognizer = try recognizer(kind, network: network, card: card, tta: evaluator.testTimeAugmentation)
        let chosenSeverities = benchmarkSeverities
        let runs = [(Corruption, Int)?.none]
            + benchmarkCorruptions.flatMap { kind in chosenSeverities.map { Optional((kind, $0)) } }
        var lines = ["\(split.usage) (\(model), TTA \(evaluator.testTimeAugmentation.rawValue)), through \(kind.rawValue):"]
        let progress = ProgressBar(total: runs.count * dataset.count, label: "corruptions through \(kind.rawValue)")
        for (index, run) in runs.enumerated() {
            let images = run.map { corruption, severity in
                dataset.corrupted(by: corruption, severity: Float(severity),
                                  seed: CorruptionBenchmark.seed(of: corruption, severity: severity))
            } ?? dataset
            let line = try compareThroughDetector(images, recognizer: recognizer, evaluator: evaluator) {
                progress.update(completed: index * dataset.count + $0)
            }
            lines.append("  \(run.map { "\($0.0.rawValue) \($0.1)" } ?? "clean"): \(line)")
        }
        progress.finish()
        print(lines.joined(separator: "\n"))
    }

    private func runCorruptionBenchmark(_ evaluator: Evaluator, card: ModelCard, weights: String?) throws {
        let (dataset, loaded) = try CommandSupport.loadWithReport(path: data, split: split, strict: strict,
                                                                  imageSize: Corruption.referenceSize)
        try Self.checkRecordable(loaded, record: record, data: data, split: split)
        try checkSameImages(card: card, figures: .robustness, count: dataset.count)
        let benchmark = CorruptionBenchmark(evaluator: evaluator, corruptions: benchmarkCorruptions,
                                            severities: benchmarkSeverities)
        let evaluations = 1 + benchmark.corruptions.count * benchmark.severities.count
        let progress = ProgressBar(total: evaluations * dataset.count, label: "corruptions")
        let report = try benchmark.run(dataset) { done, _ in progress.update(completed: done * dataset.count) }
        progress.finish()
        let measured = CorruptionOutput(model: model, split: split.usage, report: report)
        let json = String(decoding: try JSONEncoder.sortedKeys(pretty: true).encode(measured), as: UTF8.self)
        print(self.json ? json : "\(split.usage), test-time augmentation \(evaluator.testTimeAugmentation.rawValue):\n" + report.table())
        if let output { try AtomicFile.write(json + "\n", to: output) }
        if record {
            try ModelFile.editCard(at: model, weights: weights) { card in
                card.record(robustness: report, split: split.usage, testTimeAugmentation: evaluator.testTimeAugmentation,
                            imageCount: dataset.count, notes: note, replacingOtherImages: replaceFigures)
            }
            let what = evaluator.testTimeAugmentation == .none ? "the corruption report"
                : "the mean corruption accuracy with \(evaluator.testTimeAugmentation.rawValue) (the card's table is single view)"
            StandardError.write("recorded \(what) in \(model) and \(try ModelFile.savedCardPath(for: model))\n")
        }
    }
}

/// The corruption report as `--json` and `--output` write it, with the model and split it measured.
private struct CorruptionOutput: Encodable {
    var model: String
    var split: String
    var report: CorruptionReport

    func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(split, forKey: .split)
    }

    private enum CodingKeys: String, CodingKey { case model, split }
}

extension TestTimeAugmentation: ExpressibleByArgument {}

extension Corruption: ExpressibleByArgument {}

extension Split: ExpressibleByArgument {
    public static var allValueStrings: [String] { argumentNames }
}
