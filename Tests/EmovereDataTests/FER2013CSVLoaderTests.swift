import Testing
import EmovereData

struct FER2013CSVLoaderTests {
    /// 16 pixel values for 4x4 images, starting at `first`.
    static func values(_ first: Int, count: Int = 16) -> String {
        (0..<count).map { String((first + $0 * 3) % 256) }.joined(separator: " ")
    }

    static let sample: String = [
        "emotion,pixels,Usage",                       // 1
        "0,\(values(0)),Training",                    // 2 ok
        "3,\(values(1, count: 15)),Training",         // 3 wrong count
        "7,\(values(2)),Training",                    // 4 bad label
        "2,\(values(3)) x1,Training",                 // 5 non-numeric (17 tokens, the last one bad)
        "4,256 \(values(4, count: 15)),Training",     // 6 value out of range
        "5,\(values(5)),PublicTest",                  // 7 ok (other split)
        "6,\"\(values(6))\", \"Training\" ",          // 8 ok, quoted and padded
        "1,\(values(7))",                             // 9 missing column
        "2,\(values(8, count: 10))",                  // 10 truncated last line, no newline
    ].joined(separator: "\n")

    let loader = FER2013CSVLoader(imageSize: 4)

    @Test func goodRowsLoadAndBadRowsAreReportedWithLineNumbers() throws {
        let (dataset, report) = try loader.load(bytes: Array(Self.sample.utf8), name: "/data/fer2013.csv", split: .training)
        #expect(dataset.count == 2)
        #expect(dataset.labels == [0, 6])
        #expect(Array(dataset.pixels[0..<4]) == [0, 3, 6, 9])
        #expect(Array(dataset.pixels[16..<20]) == [6, 9, 12, 15])
        #expect(report.loaded == 2)
        #expect(report.skipped.map(\.location) == ["fer2013.csv:3", "fer2013.csv:4", "fer2013.csv:5",
                                                  "fer2013.csv:6", "fer2013.csv:9", "fer2013.csv:10"])
        let reasons = report.skipped.map(\.reason)
        #expect(reasons[0] == "expected 16 pixels, found 15")
        #expect(reasons[1].contains("'7'") && reasons[1].contains("0-6"))
        #expect(reasons[2].contains("non-numeric") && reasons[2].contains("x1"))
        #expect(reasons[3] == "pixel 1 is 256, expected 0-255")
        #expect(reasons[4] == "expected 3 fields, as the header has, found 2")
        #expect(reasons[5].contains("truncated"))
        #expect(report.summary == "loaded 2 images, skipped 6 malformed (first: fer2013.csv:3: expected 16 pixels, found 15)")
        // Every skipped row is named (the first in the summary), up to ten.
        #expect(report.description.split(separator: "\n").filter { $0.hasPrefix("skipped: fer2013.csv:") }.count == 5,
                "\(report)")
        var many = report
        many.skipped = Array(repeating: report.skipped[0], count: 25)
        #expect(many.description.contains("skipped: 15 more (--strict stops at the first)"), "\(many)")
    }

    @Test func otherSplitsAreSelectedByUsage() throws {
        let (dataset, _) = try loader.load(bytes: Array(Self.sample.utf8), name: "fer2013.csv", split: .publicTest)
        #expect(dataset.labels == [5])
        #expect(throws: DataError.self) {
            try loader.load(bytes: Array(Self.sample.utf8), name: "fer2013.csv", split: .privateTest)
        }
    }

    @Test func strictModeThrowsTheFirstMalformedRow() {
        let strict = FER2013CSVLoader(imageSize: 4, strict: true)
        #expect(throws: DataError.malformed(LoadIssue(location: "fer2013.csv:3", reason: "expected 16 pixels, found 15"))) {
            try strict.load(bytes: Array(Self.sample.utf8), name: "fer2013.csv", split: .training)
        }
    }

    @Test func fileWithoutUsageColumnAndWithCRLFLoadsEveryRow() throws {
        let text = "emotion,pixels\r\n3,\(Self.values(0))\r\n\r\n4,\(Self.values(1))\r\n"
        let (dataset, report) = try loader.load(bytes: Array(text.utf8), name: "two.csv", split: .training)
        #expect(dataset.labels == [3, 4])
        #expect(report.skipped.isEmpty)
        #expect(report.notes.count == 1)
    }

    @Test func headerlessFileIsReadPositionally() throws {
        let text = "3,\(Self.values(0)),Training\n4,\(Self.values(1)),PublicTest\n"
        let (dataset, _) = try loader.load(bytes: Array(text.utf8), name: "plain.csv", split: .training)
        #expect(dataset.labels == [3])
    }

    /// A Usage field on rows the header (or a headerless first row) has no column for: those rows are malformed, not
    /// loaded into every split (all of a file's splits were once evaluated as PublicTest).
    @Test func rowsWithMoreFieldsThanTheHeaderAreMalformed() throws {
        for (header, reason) in [("emotion,pixels\n", "as the header has"), ("", "as the first row has (no header)")] {
            let text = header + "3,\(Self.values(9))\n4,\(Self.values(0)),Training\n5,\(Self.values(1)),PublicTest\n"
            let (dataset, report) = try loader.load(bytes: Array(text.utf8), name: "mixed.csv", split: .publicTest)
            #expect(dataset.labels == [3])
            #expect(report.skipped.count == 2 && report.skipped[0].reason == "expected 2 fields, \(reason), found 3",
                    "\(report.skipped)")
        }
    }

    /// A trailing comma, on every line or on the header alone, adds no column; a headerless first row of one field
    /// is no FER2013 row (it crashed the loader when rows were sized by it).
    @Test func trailingCommasAddNoColumnAndOneFieldIsNoRow() throws {
        for text in ["emotion,pixels,Usage,\n3,\(Self.values(0)),Training,\n",
                     "emotion,pixels,Usage,\n3,\(Self.values(0)),Training\n",
                     "emotion,pixels,Usage\n3,\(Self.values(0)),Training,\n"] {
            let (dataset, report) = try loader.load(bytes: Array(text.utf8), name: "commas.csv", split: .training)
            #expect(dataset.labels == [3] && report.skipped.isEmpty, "\(report)")
        }
        #expect {
            try loader.load(bytes: Array("3\n4\n".utf8), name: "labels.csv", split: .training)
        } throws: { error in "\(error)".contains("labels.csv:1: unexpected CSV header") }
    }

    /// Messages that said the wrong thing: a header naming a column twice (the first was used), a value beyond 0-255
    /// called non-numeric, a file of CR-only lines called empty of PublicTest rows.
    @Test func duplicateColumnsRangesAndLineEndingsAreNamed() throws {
        let twice = "emotion,pixels,Usage,emotion\n3,\(Self.values(0)),Training,4\n"
        #expect {
            try loader.load(bytes: Array(twice.utf8), name: "twice.csv", split: .training)
        } throws: { error in "\(error)".contains("the column 'emotion' is there twice") }
        for (value, shown) in [("99999", "99999"), ("-1", "-1"), ("1000000000", "1000000000")] {
            let text = "emotion,pixels,Usage\n3,\(value) \(Self.values(0, count: 15)),Training\n"
            let (_, report) = try loader.load(bytes: Array((text + "4,\(Self.values(1)),Training\n").utf8),
                                              name: "range.csv", split: .training)
            #expect(report.skipped.first?.reason == "pixel 1 is \(shown), expected 0-255", "\(report.skipped)")
        }
        let padded = "emotion,pixels,Usage\n3,000012 \(Self.values(0, count: 15)),Training\n"
        let (dataset, _) = try loader.load(bytes: Array(padded.utf8), name: "zeros.csv", split: .training)
        #expect(dataset.pixels.first == 12)
        let classic = "emotion,pixels,Usage\r3,\(Self.values(0)),Training\r"
        #expect {
            try loader.load(bytes: Array(classic.utf8), name: "mac.csv", split: .training)
        } throws: { error in "\(error)".contains("carriage return alone") }
    }

    @Test func wrongHeaderNamesExpectedAndFound() {
        let text = "label,image\n3,\(Self.values(0))\n"
        #expect(throws: DataError.csvHeader(path: "bad.csv", expected: "emotion,pixels,Usage", found: "label,image")) {
            try loader.load(bytes: Array(text.utf8), name: "bad.csv", split: .training)
        }
    }

    @Test func emptyFileIsAnError() {
        #expect(throws: DataError.self) { try loader.load(bytes: [], name: "empty.csv", split: .training) }
    }

    @Test func fullSizeRowsParseAtTheDefaultSize() throws {
        let pixels = (0..<2304).map { String($0 % 256) }.joined(separator: " ")
        let text = "emotion,pixels,Usage\n6,\(pixels),Training\n"
        let (dataset, _) = try FER2013CSVLoader().load(bytes: Array(text.utf8), name: "one.csv", split: .training)
        #expect(dataset.imageSize == 48 && dataset.count == 1)
        #expect(dataset.pixels == (0..<2304).map { UInt8($0 % 256) })
    }

    @Test func missingFileIsUnreadable() {
        #expect(throws: DataError.self) { try loader.load(path: "/nonexistent/fer2013.csv", split: .training) }
    }
}
