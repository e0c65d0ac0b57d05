/// One input that a loader skipped (or, when strict, rejected): where it is and why.
public struct LoadIssue: Sendable, Equatable, CustomStringConvertible {
    /// A `file.csv:LINE` location or a file/folder path.
    public var location: String
    /// What was expected and what was found.
    public var reason: String

    /// Creates an issue at `location`.
    public init(location: String, reason: String) {
        self.location = location
        self.reason = reason
    }

    public var description: String { "\(location): \(reason)" }
}
