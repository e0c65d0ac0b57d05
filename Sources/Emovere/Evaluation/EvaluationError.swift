/// A failure while building, combining, encoding or storing evaluation results.
public enum EvaluationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A confusion matrix needs at least one class.
    case invalidClassCount(Int)
    /// A recorded label is not a valid class index.
    case labelOutOfRange(role: String, label: Int, classCount: Int)
    /// Two objects that must agree on the number of classes do not.
    case classCountMismatch(context: String, expected: Int, found: Int)
    /// A matrix of counts is not square, or holds a negative count.
    case invalidCounts(reason: String)
    /// Encoding or decoding a report as JSON failed.
    case codingFailed(operation: String, reason: String)
    /// The corruption benchmark received images of another size than the one its strengths are given for.
    case corruptionImageSize(expected: Int, found: Int)
    /// Reading or writing a report file failed.
    case fileFailed(path: String, operation: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidClassCount(count):
            return "confusion matrix: expected at least 1 class, found \(count)"
        case let .labelOutOfRange(role, label, classCount):
            return "confusion matrix: \(role) label \(label) out of range: expected 0..<\(classCount)"
        case let .classCountMismatch(context, expected, found):
            return "\(context): expected \(expected) classes, found \(found)"
        case let .invalidCounts(reason):
            return "confusion matrix counts: \(reason)"
        case let .corruptionImageSize(expected, found):
            return "corruption benchmark: expected \(expected)x\(expected) images (FER2013's size), found \(found)x\(found)"
        case let .codingFailed(operation, reason):
            return "classification report: \(operation) failed: \(reason)"
        case let .fileFailed(path, operation, reason):
            return "\(path): cannot \(operation) classification report: \(reason)"
        }
    }
}
