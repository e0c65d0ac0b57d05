import EmovereCore
import EmovereFiles
import EmovereNN

/// What `emovere evaluate --record` stores in a model card.
extension ModelCard {
    /// Stores the evaluation `report` made on `imageCount` images of `split` (e.g. `PublicTest`) with
    /// `testTimeAugmentation`: the metrics `<split>Accuracy<TTA>` and `<split>MacroF1<TTA>` (e.g.
    /// `publicTestAccuracy`, `publicTestMacroF1TenCrop`), the image count `<split>ImageCount`, each of `notes` not
    /// already present, and, when `testTimeAugmentation` is the card's own, the report itself with a note on what it
    /// was made on (replacing the previous one): another view set's figures leave the report of the card's views,
    /// whose calibration error the card quotes. `replacingOtherImages` first drops the split's metrics of every
    /// test-time augmentation (measured on other images), and the report of the split when this one does not
    /// replace it.
    public mutating func record(evaluation report: ClassificationReport, split: String,
                                testTimeAugmentation: TestTimeAugmentation, imageCount: Int, notes: [String] = [],
                                replacingOtherImages: Bool = false) {
        let prefix = Self.metricPrefix(split)
        let suffix = Self.metricSuffix(testTimeAugmentation)
        if replacingOtherImages {
            metrics = metrics.filter { !$0.key.hasPrefix("\(prefix)Accuracy") && !$0.key.hasPrefix("\(prefix)MacroF1") }
        }
        metrics[Self.countKey(.evaluation, split: split)] = Double(imageCount)
        metrics["\(prefix)Accuracy\(suffix)"] = report.accuracy
        metrics["\(prefix)MacroF1\(suffix)"] = report.macroF1
        guard testTimeAugmentation == self.testTimeAugmentation ?? .none else {
            // The report of the card's views was made on the images being replaced: it goes with them.
            if replacingOtherImages, evaluation?.split == split {
                evaluation = nil
                self.notes.removeAll { $0.hasPrefix("\(NoteTopic.evaluation.rawValue):") }
            }
            return add(notes)
        }
        var stored = report
        stored.model = nil
        evaluation = stored
        replaceNote(.evaluation, with: "the report is \(split), test-time augmentation \(testTimeAugmentation.rawValue), \(imageCount) images",
                    adding: notes)
    }

    /// Stores the corruption benchmark's `report` made on `imageCount` images of `split` with `testTimeAugmentation`:
    /// the metric `<split>MeanCorruptionAccuracy<TTA>` (e.g. `publicTestMeanCorruptionAccuracyFlip`), the image count
    /// `<split>CorruptionImageCount`, each of `notes` not already present, and, for a single view, the table itself
    /// with a note on what it was made on (replacing the previous one): the card's table is single view for every
    /// model, so tables compare across cards. `replacingOtherImages` first drops the split's corruption means of every
    /// test-time augmentation, and the split's table when this benchmark does not replace it.
    public mutating func record(robustness report: CorruptionReport, split: String,
                                testTimeAugmentation: TestTimeAugmentation, imageCount: Int, notes: [String] = [],
                                replacingOtherImages: Bool = false) {
        let prefix = Self.metricPrefix(split)
        if replacingOtherImages { metrics = metrics.filter { !$0.key.hasPrefix("\(prefix)MeanCorruptionAccuracy") } }
        metrics[Self.countKey(.robustness, split: split)] = Double(imageCount)
        metrics["\(Self.metricPrefix(split))MeanCorruptionAccuracy\(Self.metricSuffix(testTimeAugmentation))"] =
            report.meanAccuracy
        guard testTimeAugmentation == .none else {
            // The single-view table was made on the images being replaced: it goes with them.
            if replacingOtherImages, self.notes.contains(where: { $0.hasPrefix("\(NoteTopic.robustness.rawValue): the corruption benchmark on \(split),") }) {
                robustness = nil
                self.notes.removeAll { $0.hasPrefix("\(NoteTopic.robustness.rawValue):") }
            }
            return add(notes)
        }
        robustness = report
        replaceNote(.robustness, with: "the corruption benchmark on \(split), test-time augmentation "
                        + "\(testTimeAugmentation.rawValue), \(imageCount) images", adding: notes)
    }

    /// Figures `record` stores: an evaluation's or a corruption benchmark's.
    public enum RecordedFigures: Sendable {
        case evaluation, robustness
    }

    /// How many images of `split` the card's `figures` were measured on; nil when it holds none of that split (or
    /// a count that is no whole number of images: an edited card's).
    public func recordedImageCount(of figures: RecordedFigures, split: String) -> Int? {
        if let count = metrics[Self.countKey(figures, split: split)] { return Int(exactly: count).flatMap { $0 >= 0 ? $0 : nil } }
        // Cards recorded before the counts were stored: the last report, when it is of this split.
        switch figures {
        case .evaluation:
            guard let evaluation, evaluation.split == split else { return nil }
            var total = 0
            for count in evaluation.confusionMatrix.joined() {
                let (sum, overflow) = total.addingReportingOverflow(count)
                guard count >= 0, !overflow else { return nil }
                total = sum
            }
            return total
        case .robustness:
            guard let robustness, notes.contains(where: { $0.hasPrefix("robustness: the corruption benchmark on \(split),") })
            else { return nil }
            return robustness.count
        }
    }

    /// The metric holding the image count of `figures` of `split` (`publicTestImageCount`,
    /// `publicTestCorruptionImageCount`).
    private static func countKey(_ figures: RecordedFigures, split: String) -> String {
        metricPrefix(split) + (figures == .evaluation ? "ImageCount" : "CorruptionImageCount")
    }

    /// `PublicTest` -> `publicTest`.
    private static func metricPrefix(_ split: String) -> String {
        split.prefix(1).lowercased() + split.dropFirst()
    }

    /// The metrics' name for a test-time augmentation: none for a single view, `Flip`, `TenCrop`, `FlipCrop`.
    private static func metricSuffix(_ testTimeAugmentation: TestTimeAugmentation) -> String {
        switch testTimeAugmentation {
        case .none: ""
        case .flip: "Flip"
        case .tenCrop: "TenCrop"
        case .flipCrop: "FlipCrop"
        }
    }

    /// The topics of the notes `record` writes and replaces (`<topic>: ...`).
    private enum NoteTopic: String, CaseIterable {
        case evaluation, robustness
    }

    /// The topics of the notes `record` writes and replaces: a note of the user's may not start with one.
    public static var recordedNoteTopics: [String] { NoteTopic.allCases.map(\.rawValue) }

    private mutating func replaceNote(_ topic: NoteTopic, with text: String, adding extra: [String]) {
        notes.removeAll { $0.hasPrefix("\(topic.rawValue):") }
        notes.append("\(topic.rawValue): \(text)")
        add(extra)
    }

    /// Appends each of `extra` not already present (a note given twice is kept once).
    private mutating func add(_ extra: [String]) {
        for note in extra where !notes.contains(note) { notes.append(note) }
    }
}

extension ModelFile {
    /// Rewrites the model file at `path` (and its `.card.json`) with its card changed by `edit`; the tensors stay as
    /// they are. With `weights` (a `weightsDigest` taken before the figures being recorded were measured), a file
    /// whose weights have changed since (a training run saving a new best model meanwhile) is refused, so figures
    /// never land in the card of weights they were not measured on; and a file written again while its card is
    /// edited is refused rather than replaced by the file read before.
    public static func editCard(at path: String, weights: String? = nil, _ edit: (inout ModelCard) throws -> Void) throws {
        let identity = FileIdentity(ofFileAt: path)
        let file = try SafeTensorsFile(contentsOf: path)
        guard let identity else {
            throw ModelError.invalidModelFile(path: path, reason: "it appeared while its card was being edited (another program wrote it); measure it again to record the figures")
        }
        if let weights, try weightsDigest(of: file) != weights {
            throw ModelError.invalidModelFile(
                path: path, reason: "its weights changed while it was being measured (another program wrote the file); measure it again to record the figures")
        }
        let (model, card) = try load(file, path: path)
        var updated = card
        try edit(&updated)
        do {
            try save(model, card: updated, to: path, replacing: identity)
        } catch SafeTensorsError.writeFailed(_, AtomicFile.WriteError.replacingTheFileRead, let reason) {
            throw ModelError.invalidModelFile(path: path, reason: "not recorded: \(reason); measure it again to record the figures")
        }
    }

    /// The SHA-256 of a model file's tensors alone (not its card): the identity of its weights.
    public static func weightsDigest(of file: SafeTensorsFile) throws -> String {
        SHA256.hexDigest(of: try SafeTensorsFile(tensors: file.tensors).serialized())
    }

    /// `weightsDigest(of:)` of the model file at `path`.
    public static func weightsDigest(atPath path: String) throws -> String {
        try weightsDigest(of: SafeTensorsFile(contentsOf: path))
    }
}
