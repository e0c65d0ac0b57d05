import Testing
import EmovereData
import EmovereVision

struct FER2013Tests {
    @Test func detectsCSVFilesAndFolders() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let pixels = (0..<2304).map { String($0 % 200) }.joined(separator: " ")
        let csv = try folder.write(Array("emotion,pixels,Usage\n2,\(pixels),Training\n".utf8), to: "fer2013.csv")
        try folder.write(try GrayImage(width: 48, height: 48, value: 9).pngData(), to: "images/train/fear/a.png")

        let (fromCSV, csvReport) = try FER2013.load(path: csv, split: .training)
        #expect(fromCSV.labels == [Emotion.fear.rawValue] && csvReport.summary == "loaded 1 image")
        let (fromFolder, _) = try FER2013.load(path: folder.path + "/images", split: .training)
        #expect(fromFolder.labels == [Emotion.fear.rawValue] && fromFolder.pixels.allSatisfy { $0 == 9 })
        // The split folder itself also works.
        let (direct, directReport) = try FER2013.load(path: folder.path + "/images/train", split: .training)
        #expect(direct == fromFolder && directReport.notes.first?.contains("holds class folders directly") == true)
        // A model of another input size reads the CSV's 48x48 rows resized, as it reads folders.
        let (large, largeReport) = try FER2013.load(path: csv, split: .training, imageSize: 64)
        #expect(large.imageSize == 64 && large.count == 1 && largeReport.notes.contains { $0.contains("resized to 64x64") })
        #expect(large == fromCSV.resized(to: 64))
    }

    @Test func reportsMissingAndUnsupportedPaths() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let text = try folder.write(Array("hello".utf8), to: "readme.txt")
        #expect(throws: DataError.pathNotFound(path: folder.path + "/nothing")) {
            try FER2013.load(path: folder.path + "/nothing", split: .training)
        }
        #expect(throws: DataError.self) { try FER2013.load(path: text, split: .training) }
        #expect(throws: DataError.self) { try FER2013.load(path: folder.path, split: .training) }
    }

    @Test func errorMessagesSayExpectedAndFound() {
        let missing = DataError.splitFolderMissing(root: "/d", split: .training, expected: ["train", "training"], found: ["x"])
        #expect(missing.description == "/d: no folder for the Training split: expected one of train, training, found x")
        let crowded = DataError.splitFolderMissing(root: "/tmp", split: .training, expected: ["train"],
                                                   found: (1...1000).map { "f\($0)" })
        #expect(crowded.description == "/tmp: no folder for the Training split: expected one of train, found "
            + "f1, f2, f3, f4, f5, f6, f7, f8 and 992 more")
        let header = DataError.csvHeader(path: "f.csv", expected: "emotion,pixels,Usage", found: "a,b")
        #expect(header.description.contains("expected \"emotion,pixels,Usage\", found \"a,b\""))
    }
}
