/// The three partitions of FER2013, as named by the `Usage` column of `fer2013.csv`.
public enum Split: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// `Usage` = "Training" (28,709 images).
    case training
    /// `Usage` = "PublicTest" (3,589 images), used for validation and model selection.
    case publicTest
    /// `Usage` = "PrivateTest" (3,589 images), the final test set.
    case privateTest

    /// The value of the CSV `Usage` column for this split.
    public var usage: String {
        switch self {
        case .training: "Training"
        case .publicTest: "PublicTest"
        case .privateTest: "PrivateTest"
        }
    }

    /// Folder names this split may have in an image-folder layout, in order of preference
    /// (matched case-insensitively). PublicTest takes `val/` before `test/`: FER2013's image folders are `train/` and
    /// `test/`, but in a `train/ val/ test/` layout `test/` is the held-out test set.
    public var folderNames: [String] {
        switch self {
        case .training: ["train", "training"]
        case .publicTest: ["publictest", "public_test"] + Self.validationFolderNames + ["test"]
        case .privateTest: ["privatetest", "private_test", "private"]
        }
    }

    /// The names of a validation folder beside `train/` and `test/` (Roboflow's exports name it `valid/`): with one,
    /// `test/` is the held-out test set, PrivateTest.
    public static let validationFolderNames = ["val", "valid", "validation"]

    public var description: String { usage }

    /// The split whose CSV `Usage` value is `usage` (surrounding whitespace and quotes ignored,
    /// case-insensitive), or nil.
    public init?(usage: String) {
        let trimmed = usage.trimmingPaddingAndQuotes().lowercased()
        guard let match = Split.allCases.first(where: { $0.usage.lowercased() == trimmed }) else { return nil }
        self = match
    }

    /// The split named by a command-line argument, case-insensitively: "training"/"train",
    /// "publictest"/"public-test"/"test"/"val"/"validation", "privatetest"/"private-test"/"private".
    public init?(argument: String) {
        let key = String(argument.lowercased().filter { !"-_ \t".contains($0) })
        switch key {
        case "training", "train": self = .training
        case "publictest", "public", "test", "val", "valid", "validation": self = .publicTest
        case "privatetest", "private": self = .privateTest
        default: return nil
        }
    }

    /// The strings `init?(argument:)` accepts, for help texts and error messages.
    public static let argumentNames = ["training", "train", "publictest", "test", "val", "privatetest", "private"]
}

extension String {
    /// The string without leading and trailing whitespace, line breaks and quotes.
    func trimmingPaddingAndQuotes() -> String {
        let padding: Set<Character> = [" ", "\t", "\r", "\n", "\r\n", "\"", "'"]
        guard let first = firstIndex(where: { !padding.contains($0) }),
              let last = lastIndex(where: { !padding.contains($0) }) else { return "" }
        return String(self[first...last])
    }
}
