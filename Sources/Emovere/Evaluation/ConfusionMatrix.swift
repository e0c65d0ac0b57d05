import EmovereData

/// Precision, recall, F1 and support of one class, derived from a confusion matrix.
public struct ClassMetrics: Equatable, Sendable {
    /// Correct predictions of the class (the diagonal entry).
    public var truePositives: Int
    /// Samples whose actual class is this one (the row sum).
    public var support: Int
    /// Samples predicted as this class (the column sum).
    public var predicted: Int

    /// Creates metrics from the three counts that determine them.
    public init(truePositives: Int, support: Int, predicted: Int) {
        self.truePositives = truePositives
        self.support = support
        self.predicted = predicted
    }

    /// `truePositives / predicted`; 0 when the class was never predicted.
    public var precision: Double { predicted == 0 ? 0 : Double(truePositives) / Double(predicted) }

    /// `truePositives / support`; 0 when the class never occurs.
    public var recall: Double { support == 0 ? 0 : Double(truePositives) / Double(support) }

    /// The harmonic mean of precision and recall, computed as `2·tp / (predicted + support)`;
    /// 0 when both precision and recall are 0 or the class is absent.
    public var f1: Double {
        let denominator = predicted + support
        return denominator == 0 ? 0 : Double(2 * truePositives) / Double(denominator)
    }

    /// Whether the class occurs among the actual labels or the predictions.
    ///
    /// An absent class (no support and no predictions) has undefined precision, recall and F1:
    /// they are reported as 0 and the class is left out of the macro average.
    public var isPresent: Bool { support > 0 || predicted > 0 }
}

/// Counts of (actual class, predicted class) pairs: `counts[actual][predicted]`.
///
/// ```swift
/// var matrix = try ConfusionMatrix(classCount: Emotion.count)
/// try matrix.record(actual: .happy, predicted: .neutral)
/// print(matrix.accuracy, matrix.macroF1)
/// ```
public struct ConfusionMatrix: Equatable, Sendable, Codable {
    /// The number of classes; class indices run over `0..<classCount`.
    public let classCount: Int
    /// `counts[actual][predicted]`, a `classCount × classCount` matrix of non-negative counts.
    public private(set) var counts: [[Int]]

    /// An empty matrix for `classCount` classes.
    ///
    /// - Throws: `EvaluationError.invalidClassCount` when `classCount < 1`.
    public init(classCount: Int) throws(EvaluationError) {
        guard classCount >= 1 else { throw .invalidClassCount(classCount) }
        self.classCount = classCount
        self.counts = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
    }

    /// A matrix holding `counts` (rows are actual classes, columns predicted classes).
    ///
    /// - Throws: `EvaluationError.invalidCounts` unless `counts` is square, non-empty and non-negative.
    public init(counts: [[Int]]) throws(EvaluationError) {
        guard !counts.isEmpty else { throw .invalidClassCount(0) }
        for (row, values) in counts.enumerated() {
            guard values.count == counts.count else {
                throw .invalidCounts(reason: "expected a square matrix: row \(row) has \(values.count) columns, expected \(counts.count)")
            }
            if let column = values.firstIndex(where: { $0 < 0 }) {
                throw .invalidCounts(reason: "expected non-negative counts, found \(values[column]) at [\(row)][\(column)]")
            }
        }
        self.classCount = counts.count
        self.counts = counts
    }

    /// Counts one sample of class `actual` that was predicted as `predicted`.
    ///
    /// - Throws: `EvaluationError.labelOutOfRange` when either index is outside `0..<classCount`;
    ///   the matrix is then unchanged.
    public mutating func record(actual: Int, predicted: Int) throws(EvaluationError) {
        guard (0..<classCount).contains(actual) else {
            throw .labelOutOfRange(role: "actual", label: actual, classCount: classCount)
        }
        guard (0..<classCount).contains(predicted) else {
            throw .labelOutOfRange(role: "predicted", label: predicted, classCount: classCount)
        }
        counts[actual][predicted] += 1
    }

    /// Counts one sample of emotion `actual` that was predicted as `predicted`.
    ///
    /// - Throws: `EvaluationError.labelOutOfRange` when the matrix has fewer classes than `Emotion`.
    public mutating func record(actual: Emotion, predicted: Emotion) throws(EvaluationError) {
        try record(actual: actual.rawValue, predicted: predicted.rawValue)
    }

    /// Adds the counts of `other`, e.g. the matrix of another evaluation shard.
    ///
    /// - Throws: `EvaluationError.classCountMismatch` when the class counts differ; the matrix is then unchanged.
    public mutating func merge(_ other: ConfusionMatrix) throws(EvaluationError) {
        guard other.classCount == classCount else {
            throw .classCountMismatch(context: "merging confusion matrices", expected: classCount, found: other.classCount)
        }
        for actual in 0..<classCount {
            for predicted in 0..<classCount {
                counts[actual][predicted] += other.counts[actual][predicted]
            }
        }
    }

    /// The sum of this matrix and `other`.
    ///
    /// - Throws: `EvaluationError.classCountMismatch` when the class counts differ.
    public func merging(_ other: ConfusionMatrix) throws(EvaluationError) -> ConfusionMatrix {
        var result = self
        try result.merge(other)
        return result
    }

    /// The number of recorded samples.
    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }

    /// The number of correctly classified samples (the trace).
    public var correct: Int { (0..<classCount).reduce(0) { $0 + counts[$1][$1] } }

    /// `correct / total`; 0 for an empty matrix.
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    /// The metrics of every class, in class-index order.
    public var perClass: [ClassMetrics] {
        (0..<classCount).map { index in
            ClassMetrics(
                truePositives: counts[index][index],
                support: counts[index].reduce(0, +),
                predicted: counts.reduce(0) { $0 + $1[index] })
        }
    }

    /// The unweighted mean F1 over the classes that are present (have support or predictions).
    ///
    /// Classes with neither samples nor predictions have an undefined F1 and are left out, as
    /// scikit-learn does when it infers labels from the data; a class that was predicted but never
    /// occurs counts with F1 = 0. An empty matrix has a macro-F1 of 0.
    public var macroF1: Double {
        let present = perClass.filter(\.isPresent)
        guard !present.isEmpty else { return 0 }
        return present.reduce(0) { $0 + $1.f1 } / Double(present.count)
    }

    private enum CodingKeys: String, CodingKey {
        case counts
    }

    /// Decodes `{"counts": [[...], ...]}`, validating it as `init(counts:)` does.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let counts = try container.decode([[Int]].self, forKey: .counts)
        do {
            try self.init(counts: counts)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .counts, in: container, debugDescription: error.description)
        }
    }

    /// Encodes `{"counts": [[...], ...]}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(counts, forKey: .counts)
    }
}
