import EmovereCore
import EmovereData
import EmovereFiles
import Foundation

/// The result of an evaluation run: overall and per-class scores plus the confusion matrix,
/// as JSON (`jsonData()`) or as a fixed-width text table (`table()`).
public struct ClassificationReport: Codable, Equatable, Sendable {
    /// The scores of one class.
    public struct ClassEntry: Codable, Equatable, Sendable {
        /// The class name.
        public var name: String
        /// Correct predictions of the class over all predictions of it (0 when never predicted).
        public var precision: Double
        /// Correct predictions of the class over its samples (0 when it has none).
        public var recall: Double
        /// The harmonic mean of precision and recall (0 when undefined).
        public var f1: Double
        /// The number of samples of the class.
        public var support: Int

        /// Creates an entry.
        public init(name: String, precision: Double, recall: Double, f1: Double, support: Int) {
            self.name = name
            self.precision = precision
            self.recall = recall
            self.f1 = f1
            self.support = support
        }
    }

    /// The fraction of samples classified correctly.
    public var accuracy: Double
    /// The mean F1 over classes that have samples or predictions (see `ConfusionMatrix.macroF1`).
    public var macroF1: Double
    /// One entry per class, in class-index order.
    public var perClass: [ClassEntry]
    /// `confusionMatrix[actual][predicted]` counts.
    public var confusionMatrix: [[Int]]
    /// The model that was evaluated (a name or path), if recorded.
    public var model: String?
    /// The data split that was evaluated (e.g. `test`), if recorded.
    public var split: String?
    /// The number of images the run was limited to (e.g. by a `--count` option), if any;
    /// the number actually evaluated is the sum of `confusionMatrix`.
    public var count: Int?
    /// The test-time augmentation used (e.g. `flip`), if any.
    public var testTimeAugmentation: String?
    /// Expected calibration error over 15 confidence bins (`Calibration`), when measured.
    public var expectedCalibrationError: Double?
    /// The temperature the probabilities were calibrated with, when not 1.
    public var temperature: Float?

    /// Builds a report from `matrix`, naming its classes `classNames` (by default the seven
    /// `Emotion` names in FER2013 order).
    ///
    /// - Throws: `EvaluationError.classCountMismatch` when `classNames.count != matrix.classCount`.
    public init(
        matrix: ConfusionMatrix,
        classNames: [String] = Emotion.allCases.map(\.name),
        model: String? = nil,
        split: String? = nil,
        count: Int? = nil,
        testTimeAugmentation: String? = nil
    ) throws(EvaluationError) {
        guard classNames.count == matrix.classCount else {
            throw .classCountMismatch(context: "classification report class names", expected: matrix.classCount, found: classNames.count)
        }
        self.accuracy = matrix.accuracy
        self.macroF1 = matrix.macroF1
        self.perClass = zip(classNames, matrix.perClass).map { name, metrics in
            ClassEntry(name: name, precision: metrics.precision, recall: metrics.recall, f1: metrics.f1, support: metrics.support)
        }
        self.confusionMatrix = matrix.counts
        self.model = model
        self.split = split
        self.count = count
        self.testTimeAugmentation = testTimeAugmentation
    }

    // MARK: JSON

    /// The report as pretty-printed JSON with sorted keys (deterministic for equal reports).
    ///
    /// - Throws: `EvaluationError.codingFailed` when a score is not finite.
    public func jsonData() throws(EvaluationError) -> Data {
        do {
            return try JSONEncoder.sortedKeys(pretty: true).encode(self)
        } catch {
            throw .codingFailed(operation: "JSON encoding", reason: String(describing: error))
        }
    }

    /// Decodes a report from the JSON that `jsonData()` produces.
    ///
    /// - Throws: `EvaluationError.codingFailed` naming what is missing or malformed.
    public init(jsonData data: Data) throws(EvaluationError) {
        do {
            self = try JSONDecoder().decode(ClassificationReport.self, from: data)
        } catch {
            throw .codingFailed(operation: "JSON decoding", reason: String(describing: error))
        }
    }

    /// Writes `jsonData()` (plus a final newline) to `path`, atomically.
    ///
    /// - Throws: `EvaluationError.fileFailed` naming `path`, or an error of `jsonData()`.
    public func write(to path: String) throws(EvaluationError) {
        var data = try jsonData()
        data.append(UInt8(ascii: "\n"))
        do {
            try AtomicFile.write(Array(data), to: path)
        } catch {
            throw .fileFailed(path: path, operation: error.operation, reason: error.reason)
        }
    }

    /// Reads a report written by `write(to:)`.
    ///
    /// - Throws: `EvaluationError.fileFailed` naming `path`, or `codingFailed` for malformed JSON.
    public init(contentsOf path: String) throws(EvaluationError) {
        let data: Data
        do {
            data = Data(try FileContents.bytes(atPath: path, maximumBytes: FileContents.largestDocumentBytes))
        } catch {
            throw .fileFailed(path: path, operation: "read", reason: error.reason)
        }
        do {
            self = try JSONDecoder().decode(ClassificationReport.self, from: data)
        } catch {
            throw .fileFailed(path: path, operation: "decode", reason: String(describing: error))
        }
    }

    // MARK: Text

    /// A fixed-width text rendering: an optional run line (model, split, count, TTA), one row per
    /// class (precision, recall, F1, support; `-` for a class with no samples and no predictions),
    /// accuracy and macro-F1, then the confusion matrix with rows = actual and columns = predicted,
    /// headed with short class names.
    public func table() -> String {
        var lines: [String] = []
        var run: [String] = []
        if let model { run.append("model: \(model)") }
        if let split { run.append("split: \(split)") }
        if let count { run.append("count: \(count)") }
        if let testTimeAugmentation { run.append("tta: \(testTimeAugmentation)") }
        if let temperature { run.append("temperature: \(String(format: "%.3f", temperature))") }
        if !run.isEmpty { lines.append(run.joined(separator: "  ")) }

        let total = confusionMatrix.reduce(0) { $0 + $1.reduce(0, +) }
        let predictedCounts = confusionMatrix.indices.map { column in
            confusionMatrix.reduce(0) { $0 + (column < $1.count ? $1[column] : 0) }
        }
        let nameWidth = max(8, perClass.map(\.name.count).max() ?? 0)
        let supportWidth = max(7, String(total).count)
        lines.append(ReportTextTable.padRight("class", nameWidth) + "  precision  recall      f1  " + ReportTextTable.padLeft("support", supportWidth))
        for (index, entry) in perClass.enumerated() {
            let predicted = index < predictedCounts.count ? predictedCounts[index] : 0
            let isPresent = entry.support > 0 || predicted > 0
            let scores = [entry.precision, entry.recall, entry.f1].map { isPresent ? ReportTextTable.fixed($0) : "-" }
            lines.append(ReportTextTable.padRight(entry.name, nameWidth)
                + "  " + ReportTextTable.padLeft(scores[0], 9)
                + "  " + ReportTextTable.padLeft(scores[1], 6)
                + "  " + ReportTextTable.padLeft(scores[2], 6)
                + "  " + ReportTextTable.padLeft(String(entry.support), supportWidth))
        }
        // Accuracy and macro-F1 sit in the F1 column: skip the precision and recall columns.
        let skipToF1 = String(repeating: " ", count: 2 + 9 + 2 + 6 + 2)
        var summary = [("accuracy", accuracy), ("macro F1", macroF1)]
        if let expectedCalibrationError { summary.append(("ECE", expectedCalibrationError)) }
        for (title, value) in summary {
            lines.append(ReportTextTable.padRight(title, nameWidth) + skipToF1
                + ReportTextTable.padLeft(ReportTextTable.fixed(value), 6) + "  " + ReportTextTable.padLeft(String(total), supportWidth))
        }

        lines.append("")
        lines.append("confusion matrix (rows: actual, columns: predicted)")
        let shortNames = ReportTextTable.shortNames(perClass.map(\.name))
        let largest = confusionMatrix.flatMap { $0 }.max() ?? 0
        let cellWidth = max(String(largest).count, shortNames.map(\.count).max() ?? 0)
        lines.append(String(repeating: " ", count: nameWidth) + shortNames.map { " " + ReportTextTable.padLeft($0, cellWidth) }.joined())
        for (index, row) in confusionMatrix.enumerated() {
            let name = index < perClass.count ? perClass[index].name : String(index)
            lines.append(ReportTextTable.padRight(name, nameWidth) + row.map { " " + ReportTextTable.padLeft(String($0), cellWidth) }.joined())
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Fixed-width text helpers for `ClassificationReport.table()`.
enum ReportTextTable {
    /// `text` padded with spaces on the left to `width` characters (unchanged when longer).
    static func padLeft(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// `text` padded with spaces on the right to `width` characters (unchanged when longer).
    static func padRight(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    /// `value` with three decimals, e.g. `0.714`.
    static func fixed(_ value: Double) -> String {
        String(format: "%.3f", value)
    }

    /// The first three characters of each name, or the full names when those would collide.
    static func shortNames(_ names: [String]) -> [String] {
        let short = names.map { String($0.prefix(3)) }
        return Set(short).count == short.count ? short : names
    }
}
