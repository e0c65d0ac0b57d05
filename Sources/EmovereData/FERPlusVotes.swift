import EmovereCore
import Foundation

/// FER+ crowd votes (Barsoum et al. 2016) for FER2013 images: ten annotators per image over neutral, happiness,
/// surprise, sadness, anger, disgust, fear, contempt, unknown and not-a-face, read from a CSV with a `file` column
/// (a path whose last component is the image's file name, e.g. `train/angry/Training_10118481.png`) and one
/// column per vote (`neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF`; others ignored).
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

    /// Votes by image file name.
    public private(set) var byFileName: [String: Votes]

    /// Reads `path`; a missing column, a short row or a vote that is not an integer from 0 to `maximumVotes` is an
    /// error naming the line.
    public init(contentsOf path: String) throws(DataError) {
        let text: String
        do {
            // A byte-order mark (as spreadsheet programs write) is not part of the first column's name.
            text = String(decoding: try FileContents.bytes(atPath: path).trimmingPrefix([0xEF, 0xBB, 0xBF]),
                          as: UTF8.self)
        } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).makeIterator()
        let header = (lines.next() ?? "").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let wanted = ["file"] + Self.columns
        let positions = wanted.map { header.firstIndex(of: $0) }
        guard positions.allSatisfy({ $0 != nil }) else {
            throw .csvHeader(path: path, expected: wanted.joined(separator: ","), found: header.joined(separator: ","))
        }
        let indices = positions.compactMap { $0 }
        byFileName = [:]
        var number = 1
        while let line = lines.next() {
            number += 1
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == header.count else {
                throw .malformed(LoadIssue(location: "\(path):\(number)",
                                           reason: "expected \(header.count) fields, found \(fields.count)"))
            }
            var counts: [Int] = []
            for (column, index) in zip(Self.columns, indices.dropFirst()) {
                guard let count = Int(fields[index]), (0...Self.maximumVotes).contains(count) else {
                    throw .malformed(LoadIssue(location: "\(path):\(number)", reason:
                        "\(column) is '\(fields[index])', expected a vote count from 0 to \(Self.maximumVotes)"))
                }
                counts.append(count)
            }
            let name = fields[indices[0]].split(separator: "/").last.map(String.init) ?? ""
            byFileName[name] = Votes(counts: counts)
        }
    }

    /// The votes of `dataset`'s images (nil where an image has none), matched by file name.
    public func votes(for dataset: FaceDataset) -> [Votes?] {
        dataset.sources.map { byFileName[$0] }
    }
}
