import EmovereCore

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
    /// True when the source has no splits of its own (a folder that holds class folders directly, a CSV without a
    /// Usage column): every split reads the same images.
    public var readsEverySplit: Bool

    /// Creates a report.
    public init(source: String, loaded: Int, skipped: [LoadIssue] = [], notes: [String] = [],
                readsEverySplit: Bool = false) {
        self.source = source
        self.loaded = loaded
        self.skipped = skipped
        self.notes = notes
        self.readsEverySplit = readsEverySplit
    }

    /// One line, e.g. "loaded 28709 images, skipped 3 malformed (first: fer2013.csv:17: expected 2304
    /// pixels, found 2303)".
    public var summary: String {
        var text = "loaded \(loaded.counting("image"))"
        if let first = skipped.first {
            text += ", skipped \(skipped.count) malformed (first: \(first))"
        }
        return text
    }

    /// How many skipped inputs ``description`` names, the first included.
    public static let listedIssues = 10

    /// The source and summary, e.g. "data/train: loaded 28709 images", a line for each further skipped input (up to
    /// ``listedIssues`` in all, then their count), then a line per note.
    public var description: String {
        var lines = ["\(source): \(summary)"]
        lines += skipped.dropFirst().prefix(Self.listedIssues - 1).map { "skipped: \($0)" }
        if skipped.count > Self.listedIssues {
            lines.append("skipped: \(skipped.count - Self.listedIssues) more (--strict stops at the first)")
        }
        return (lines + notes.map { "note: \($0)" }).joined(separator: "\n")
    }
}
