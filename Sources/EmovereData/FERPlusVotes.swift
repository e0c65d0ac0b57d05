import EmovereCore
import Foundation

/// FER+ crowd votes (Barsoum et al. 2016) for FER2013 images: ten annotators per image over neutral, happiness,
/// surprise, sadness, anger, disgust, fear, contempt, unknown and not-a-face, read from a CSV with a `file` column
/// (a path ending in the image's class folder and file name, e.g. `train/angry/Training_10118481.png`) and one
/// column per vote (`neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF`; others ignored).
/// Images are matched by class folder and file name: FER2013 has file names in two class folders.
public struct FERPlusVotes: Sendable {
    /// The vote columns, in the order of `Votes.counts`.
    public static let columns = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                                 "contempt", "unknown", "NF"]

    /// The most votes one column may hold for an image (FER+ has ten annotators per image).
    public static let maximumVotes = 10_000

    /// One image's votes, in `columns` order.
    public struct Votes: Sendable, Equatable {
        public var counts: [Int]

        /// The votes for the seven FER2013 classes as a distribution in `Emotion` order, or nil when no annotator
        /// chose one of them (only contempt, unknown or not-a-face).
        public var distribution: [Float]? {
            // Emotion order: angry, disgust, fear, happy, sad, surprise, neutral.
            let emotions = [counts[4], counts[5], counts[6], counts[1], counts[3], counts[2], counts[0]]
            let total = emotions.reduce(0, +)
            return total > 0 ? emotions.map { Float($0) / Float(total) } : nil
        }

        /// Whether most annotators said the image is not a face.
        public var isNotAFace: Bool { 2 * counts[9] > counts.reduce(0, +) }
    }

    /// Votes by class folder and file name (`angry/Training_10118481.png`, the folder in lower case), the form of
    /// `FaceDataset.sources`.
    public private(set) var byImage: [String: Votes]
    /// The file the votes were read from.
    public let path: String

    /// Reads `path`; a missing column, a short row, a vote that is not an integer from 0 to `maximumVotes`, a file
    /// without a class folder or an image listed twice is an error naming the line.
    public init(contentsOf path: String) throws(DataError) {
        self.path = path
        let text: String
        do {
            // A byte-order mark (as spreadsheet programs write) is not part of the first column's name.
            text = String(decoding: try FileContents.bytes(atPath: path).trimmingPrefix([0xEF, 0xBB, 0xBF]),
                          as: UTF8.self)
        } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).makeIterator()
        let header = Self.fields(of: lines.next() ?? "").map(String.init)
        let wanted = ["file"] + Self.columns
        let positions = wanted.map { header.firstIndex(of: $0) }
        guard positions.allSatisfy({ $0 != nil }) else {
            throw .csvHeader(path: path, expected: wanted.joined(separator: ","),
                             found: Self.clipped(header.joined(separator: ","), limit: 120))
        }
        let indices = positions.compactMap { $0 }
        byImage = [:]
        var lineOfImage: [String: Int] = [:]
        var number = 1
        while let line = lines.next() {
            number += 1
            if line.isEmpty { continue }
            let fields = Self.fields(of: line)
            guard fields.count == header.count else {
                throw .malformed(LoadIssue(location: "\(path):\(number)",
                                           reason: "expected \(header.count) fields, found \(fields.count)"))
            }
            var counts: [Int] = []
            for (column, index) in zip(Self.columns, indices.dropFirst()) {
                guard let count = Int(fields[index]), (0...Self.maximumVotes).contains(count) else {
                    throw .malformed(LoadIssue(location: "\(path):\(number)", reason:
                        "\(column) is '\(Self.clipped(fields[index]))', expected a vote count from 0 to \(Self.maximumVotes)"))
                }
                counts.append(count)
            }
            let components = fields[indices[0]].split(separator: "/")
            guard components.count >= 2 else {
                throw .malformed(LoadIssue(location: "\(path):\(number)", reason:
                    "file is '\(Self.clipped(fields[indices[0]]))', expected a path ending in a class folder and a file name (angry/Training_1.png)"))
            }
            // Keyed as the loader names an image: by its emotion's own name (an `anger/` folder's image is
            // `angry/...`), so votes listed under another spelling of the class folders still match.
            let folder = String(components[components.count - 2])
            let image = (Emotion(folderName: folder)?.name ?? folder.lowercased()) + "/" + components[components.count - 1]
            if let earlier = lineOfImage.updateValue(number, forKey: image) {
                throw .malformed(LoadIssue(location: "\(path):\(number)", reason: "\(image) is also on line \(earlier)"))
            }
            byImage[image] = Votes(counts: counts)
        }
    }

    /// The comma-separated fields of `line`, each without surrounding spaces and double quotes (as spreadsheet
    /// programs write them).
    private static func fields(of line: Substring) -> [Substring] {
        let isPadding: (Character) -> Bool = { $0 == " " || $0 == "\"" }
        return line.split(separator: ",", omittingEmptySubsequences: false).map { field in
            guard let first = field.firstIndex(where: { !isPadding($0) }),
                  let last = field.lastIndex(where: { !isPadding($0) }) else { return field[field.endIndex...] }
            return field[first...last]
        }
    }

    /// `text` cut to `limit` characters for a message (a 10 MB field was echoed whole).
    private static func clipped(_ text: some StringProtocol, limit: Int = 40) -> String {
        text.count > limit ? text.prefix(limit) + "..." : String(text)
    }

    /// The votes of `dataset`'s images (nil where an image has none), matched by class folder and file name.
    public func votes(for dataset: FaceDataset) -> [Votes?] {
        dataset.sources.map { byImage[$0] }
    }
}
