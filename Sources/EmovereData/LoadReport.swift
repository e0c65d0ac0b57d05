/// What a loader read: how many images, and which inputs it skipped and why.
public struct LoadReport: Sendable, Equatable, CustomStringConvertible {
    /// The file or folder that was read.
    public var source: String
    /// The number of images in the resulting dataset.
    public var loaded: Int
    /// The inputs that were skipped, in file order.
    public var skipped: [LoadIssue]
    /// Remarks that are not errors (for example "no Usage column: every row loaded").
    public var notes: [String]

    /// Creates a report.
    public init(source: String, loaded: Int, skipped: [LoadIssue] = [], notes: [String] = []) {
        self.source = source
        self.loaded = loaded
        self.skipped = skipped
        self.notes = notes
    }

    /// One line, e.g. "loaded 28709 images, skipped 3 malformed (first: fer2013.csv:17: expected 2304
    /// pixels, found 2303)".
    public var summary: String {
        var text = "loaded \(loaded) image\(loaded == 1 ? "" : "s")"
        if let first = skipped.first {
            text += ", skipped \(skipped.count) malformed (first: \(first))"
        }
        return text
    }

    public var description: String {
        ([summary] + notes.map { "note: \($0)" }).joined(separator: "\n")
    }
}
