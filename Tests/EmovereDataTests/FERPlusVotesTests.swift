import EmovereData
import Foundation
import Testing

struct FERPlusVotesTests {
    static let header = "file,split,fer2013_row,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"

    static func write(_ lines: [String]) throws -> (path: String, directory: TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        let path = try directory.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: "ferplus.csv")
        return (path, directory)
    }

    @Test func votesMapToEmotionOrderAndNonFacesAreTold() throws {
        let (path, directory) = try Self.write([
            Self.header,
            "train/angry/Training_1.png,train,11756,2,0,0,1,7,0,0,0,0,0",
            "train/happy/Training_2.png,train,5,0,0,0,0,0,0,0,1,3,6",
            "test/sad/PublicTest_3.png,test,-1,1,1,1,1,1,1,1,1,1,1",
        ])
        defer { directory.remove() }
        let votes = try FERPlusVotes(contentsOf: path)
        let angry = try #require(votes.byImage["angry/Training_1.png"])
        // angry 7, sad 1, neutral 2 of 10 emotion votes; order angry, disgust, fear, happy, sad, surprise, neutral.
        #expect(angry.distribution == [0.7, 0, 0, 0, 0.1, 0, 0.2])
        #expect(!angry.isNotAFace)
        let nonFace = try #require(votes.byImage["happy/Training_2.png"])
        #expect(nonFace.distribution == nil && nonFace.isNotAFace)
        #expect(votes.byImage["sad/PublicTest_3.png"]?.isNotAFace == false)
        let dataset = FaceDataset(imageSize: 1, pixels: [0, 0], labels: [0, 3], sources: ["happy/Training_2.png", "angry/Training_2.png"])
        #expect(votes.votes(for: dataset) == [nonFace, nil])
    }

    /// Votes listed under another spelling of the class folders (FER+'s own: `happiness/`) match the images the
    /// loader names by their emotion (`happy/`); they matched no image of those classes, silently.
    @Test func votesUnderOtherFolderSpellingsMatch() throws {
        let (path, directory) = try Self.write([
            Self.header,
            "train/Happiness/Training_2.png,train,5,0,9,0,0,0,0,1,0,0,0",
            "train/anger/Training_1.png,train,6,0,0,0,0,10,0,0,0,0,0",
        ])
        defer { directory.remove() }
        let votes = try FERPlusVotes(contentsOf: path)
        #expect(votes.byImage["happy/Training_2.png"]?.distribution == [0, 0, 0.1, 0.9, 0, 0, 0])
        #expect(votes.byImage["angry/Training_1.png"]?.distribution == [1, 0, 0, 0, 0, 0, 0])
    }

    @Test func aByteOrderMarkBeforeTheHeaderIsSkipped() throws {
        let (path, directory) = try Self.write(["\u{FEFF}" + Self.header, "Train/Angry/Training_1.png,train,7,1,2,0,0,0,0,0,0,0,0"])
        defer { directory.remove() }
        let votes = try FERPlusVotes(contentsOf: path)
        #expect(votes.byImage["angry/Training_1.png"]?.counts == [1, 2, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    /// Fields in double quotes (as spreadsheet programs write them) are read without the quotes.
    @Test func quotedFieldsAreRead() throws {
        let quoted = Self.header.split(separator: ",").map { "\"\($0)\"" }.joined(separator: ",")
        let (path, directory) = try Self.write([quoted, "\"train/angry/Training_1.png\", train,7, 1,2,0,0,0,0,0,0,0,0"])
        defer { directory.remove() }
        let votes = try FERPlusVotes(contentsOf: path)
        #expect(votes.byImage["angry/Training_1.png"]?.counts == [1, 2, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func malformedFilesNameTheLineAndWhatWasExpected() throws {
        let cases: [([String], String)] = [
            (["file,neutral", "a.png,1"], "ferplus.csv:1: unexpected CSV header: expected \"file,neutral,happiness"),
            ([Self.header, "s/a.png,train,1,1,1,1,1,1,1,1,1,1"], "ferplus.csv:2: expected 13 fields, found 12"),
            ([Self.header, "s/a.png,train,1,1,1,1,1,1,1,1,1,1,1", "s/b.png,train,1,1,x,1,1,1,1,1,1,1,1"],
             "ferplus.csv:3: happiness is 'x', expected a vote count"),
            ([Self.header, "s/a.png,train,1,1,1,1,1,1,1,1,1,1,9223372036854775807"],
             "ferplus.csv:2: NF is '9223372036854775807', expected a vote count from 0 to 10000"),
            ([Self.header, "a.png,train,1,1,1,1,1,1,1,1,1,1,1"],
             "ferplus.csv:2: file is 'a.png', expected a path ending in a class folder and a file name"),
            ([Self.header, "train/sad/a.png,train,1,1,1,1,1,1,1,1,1,1,1", "x/Sad/a.png,train,1,1,1,1,1,1,1,1,1,1,1"],
             "ferplus.csv:3: sad/a.png is also on line 2"),
            // A long field is cut in the message (a 10 MB one was printed whole).
            ([Self.header, "s/a.png,train,1,1,1,1,1,1,1,1,1,1," + String(repeating: "9", count: 100_000)],
             "ferplus.csv:2: NF is '\(String(repeating: "9", count: 40))...', expected a vote count"),
        ]
        for (lines, message) in cases {
            let (path, directory) = try Self.write(lines)
            defer { directory.remove() }
            let error = try #require(throws: DataError.self) { try FERPlusVotes(contentsOf: path) }
            #expect(error.description.contains(message), "\(error)")
        }
    }
}
