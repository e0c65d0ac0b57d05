import EmovereCore
import EmovereData
import EmovereFiles
import EmovereNN
import EmovereTensor
import Foundation

/// Accuracy under the camera corruptions of `Corruption`, each at severities 1...5, as ImageNet-C
/// measures ImageNet models. Corruptions are applied at FER2013's 48 x 48 (`Corruption.referenceSize`)
/// before resizing to the model's input, with fixed seeds, so figures compare across models and versions.
public struct CorruptionBenchmark {
    /// The seed every run uses: image `i` of corruption `c` at severity `s` always gets the same noise,
    /// rotation sense and shift direction.
    public static let seed: UInt64 = 2013
    public let evaluator: Evaluator
    public var corruptions: [Corruption]
    public var severities: [Int]

    public init(evaluator: Evaluator, corruptions: [Corruption] = Corruption.allCases,
                severities: [Int] = Array(Corruption.severities)) {
        self.evaluator = evaluator
        self.corruptions = corruptions
        self.severities = severities
    }

    /// Runs the clean split, then every corruption at every severity. `dataset` holds 48 x 48 images;
    /// `progress` receives the number of evaluations done and their total.
    public func run(_ dataset: FaceDataset, progress: ((Int, Int) -> Void)? = nil) throws -> CorruptionReport {
        guard dataset.imageSize == Corruption.referenceSize else {
            throw EvaluationError.corruptionImageSize(expected: Corruption.referenceSize, found: dataset.imageSize)
        }
        let inputSize = evaluator.preprocessing.inputSize
        let total = 1 + corruptions.count * severities.count
        let classes = evaluator.model.architecture.classCount
        func measure(_ images: FaceDataset) throws -> (accuracy: Double, calibrationError: Double) {
            let result = try evaluator.evaluate(images.resized(to: inputSize))
            let bins = Calibration.bins(probabilities: result.probabilities, labels: images.labels, classes: classes)
            return (result.accuracy, Calibration.expectedError(bins))
        }
        let clean = try measure(dataset)
        progress?(1, total)
        var entries: [CorruptionReport.Entry] = []
        for corruption in corruptions {
            for severity in severities {
                let seed = Self.seed(of: corruption, severity: severity)
                let corrupted = dataset.corrupted(by: corruption, severity: Float(severity), seed: seed)
                let measured = try measure(corrupted)
                entries.append(.init(corruption: corruption, severity: severity, accuracy: measured.accuracy,
                                     expectedCalibrationError: measured.calibrationError))
                progress?(1 + entries.count, total)
            }
        }
        return CorruptionReport(cleanAccuracy: clean.accuracy, cleanCalibrationError: clean.calibrationError,
                                entries: entries, testTimeAugmentation: evaluator.testTimeAugmentation,
                                temperature: evaluator.temperature, count: dataset.count)
    }
}

extension CorruptionBenchmark {
    /// The seed of `corruption` at `severity`: fixed by the corruption's name, not its position in a list.
    public static func seed(of corruption: Corruption, severity: Int) -> UInt64 {
        SplitMix64(seed: seed ^ FNV1a.hash(corruption.rawValue)).derived(stream: UInt64(severity)).state
    }
}

/// The outcome of a `CorruptionBenchmark` run; stored in model cards as `robustness`.
public struct CorruptionReport: Sendable, Codable, Equatable {
    public struct Entry: Sendable, Codable, Equatable {
        public var corruption: Corruption
        public var severity: Int
        public var accuracy: Double
        /// Expected calibration error over 15 bins.
        public var expectedCalibrationError: Double
    }

    /// Accuracy on the uncorrupted images.
    public var cleanAccuracy: Double
    /// Expected calibration error on the uncorrupted images.
    public var cleanCalibrationError: Double
    /// One entry per corruption and severity.
    public var entries: [Entry]
    public var testTimeAugmentation: TestTimeAugmentation
    /// The temperature the probabilities were calibrated with.
    public var temperature: Float
    /// The number of images.
    public var count: Int

    /// The mean accuracy over every corruption and severity.
    public var meanAccuracy: Double { mean(entries.map(\.accuracy)) }

    /// The mean expected calibration error over every corruption and severity.
    public var meanCalibrationError: Double { mean(entries.map(\.expectedCalibrationError)) }

    /// The mean accuracy over corruptions at severity 3, the benchmark's middle severity.
    public var middleSeverityMeanAccuracy: Double { mean(entries.filter { $0.severity == 3 }.map(\.accuracy)) }

    /// The lowest accuracy at severity 3, and its corruption.
    public var worstAtMiddleSeverity: Entry? { entries.filter { $0.severity == 3 }.min { $0.accuracy < $1.accuracy } }

    /// The summary figures, written after the stored ones (`--json`, `--output`, the card) and not read back: they
    /// follow from `entries`. The middle severity's are left out of a run without severity 3.
    private enum SummaryKeys: String, CodingKey {
        case meanAccuracy, meanCalibrationError, middleSeverityMeanAccuracy, worstAtMiddleSeverity
    }

    public func encode(to encoder: any Encoder) throws {
        var stored = encoder.container(keyedBy: CodingKeys.self)
        try stored.encode(cleanAccuracy, forKey: .cleanAccuracy)
        try stored.encode(cleanCalibrationError, forKey: .cleanCalibrationError)
        try stored.encode(entries, forKey: .entries)
        try stored.encode(testTimeAugmentation, forKey: .testTimeAugmentation)
        try stored.encode(temperature, forKey: .temperature)
        try stored.encode(count, forKey: .count)
        var summary = encoder.container(keyedBy: SummaryKeys.self)
        try summary.encode(meanAccuracy, forKey: .meanAccuracy)
        try summary.encode(meanCalibrationError, forKey: .meanCalibrationError)
        if let worstAtMiddleSeverity {
            try summary.encode(middleSeverityMeanAccuracy, forKey: .middleSeverityMeanAccuracy)
            try summary.encode(worstAtMiddleSeverity, forKey: .worstAtMiddleSeverity)
        }
    }

    /// The mean accuracy of `corruption` over its severities.
    public func meanAccuracy(of corruption: Corruption) -> Double {
        mean(entries.filter { $0.corruption == corruption }.map(\.accuracy))
    }

    /// A fixed-width table: one row per corruption, one column per severity, then the row's mean.
    public func table() -> String {
        let severities = Array(Set(entries.map(\.severity))).sorted()
        var lines = ["corruption      " + severities.map { "     s\($0)" }.joined() + "   mean"]
        var corruptions: [Corruption] = []
        for entry in entries where !corruptions.contains(entry.corruption) { corruptions.append(entry.corruption) }
        for corruption in corruptions {
            let cells = severities.map { severity in
                entries.first { $0.corruption == corruption && $0.severity == severity }
                    .map { String(format: "%7.1f", 100 * $0.accuracy) } ?? "      -"
            }
            lines.append(corruption.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0) + cells.joined()
                         + String(format: "%7.1f", 100 * meanAccuracy(of: corruption)))
        }
        let middle = severities.contains(3) ? String(format: " (severity 3: %.1f %%)", 100 * middleSeverityMeanAccuracy) : ""
        let allCorruptions = corruptions.count == Corruption.allCases.count
        let run = (allCorruptions ? "" : " (\(corruptions.map(\.rawValue).joined(separator: ", ")) alone)")
            + (severities == Array(Corruption.severities) ? "" : ", severities \(severities.map(String.init).joined(separator: " "))")
        lines.append(String(format: "clean %.1f %%, mean under corruption%@ %.1f %%%@",
                            100 * cleanAccuracy, run, 100 * meanAccuracy, middle))
        lines.append(String(format: "expected calibration error: clean %.1f %%, mean under corruption %.1f %% (temperature %.3f)",
                            100 * cleanCalibrationError, 100 * meanCalibrationError, temperature))
        if let worst = worstAtMiddleSeverity {
            lines.append(String(format: "worst at severity 3: %@ %.1f %%", worst.corruption.rawValue, 100 * worst.accuracy))
        }
        return lines.joined(separator: "\n")
    }

    private func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }
}
