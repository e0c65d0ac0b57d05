/// An error raised while loading a dataset; each message names the path and says what was
/// expected and what was found.
public enum DataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing exists at `path`.
    case pathNotFound(path: String)
    /// `path` exists but is neither a `.csv` file nor a directory.
    case unsupportedPath(path: String, reason: String)
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// The first line of a CSV file is not the expected header.
    case csvHeader(path: String, expected: String, found: String)
    /// The image-folder root has no folder for the split; `found` lists the folders it has.
    case splitFolderMissing(root: String, split: Split, expected: [String], found: [String])
    /// Loading produced no image at all.
    case noImages(path: String, split: Split, reason: String)
    /// A malformed row or file, raised in strict mode instead of being skipped.
    case malformed(LoadIssue)
    /// An argument outside its valid range (for example a non-positive image size).
    case invalidArgument(name: String, expected: String, found: String)

    /// Folders a `splitFolderMissing` message names before it counts the rest (a wrong `--data` can be a folder of
    /// thousands).
    static let listedFolders = 8

    public var description: String {
        switch self {
        case let .pathNotFound(path):
            return "\(path): no such file or directory (expected fer2013.csv or a folder with train/ and test/)"
        case let .unsupportedPath(path, reason):
            return "\(path): \(reason)"
        case let .unreadable(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .csvHeader(path, expected, found):
            return "\(path):1: unexpected CSV header: expected \"\(expected)\", found \"\(found)\""
        case let .splitFolderMissing(root, split, expected, found):
            let shown = found.prefix(Self.listedFolders).joined(separator: ", ")
            let listing = found.isEmpty ? "no folders"
                : found.count > Self.listedFolders ? "\(shown) and \(found.count - Self.listedFolders) more" : shown
            return "\(root): no folder for the \(split.usage) split: expected one of "
                + "\(expected.joined(separator: ", ")), found \(listing)"
        case let .noImages(path, split, reason):
            return "\(path): no \(split.usage) images loaded: \(reason)"
        case let .malformed(issue):
            return issue.description
        case let .invalidArgument(name, expected, found):
            return "invalid \(name): expected \(expected), found \(found)"
        }
    }
}
