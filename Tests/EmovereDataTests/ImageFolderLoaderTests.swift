import Testing
import EmovereData
import EmovereVision

struct ImageFolderLoaderTests {
    static func face(_ seed: Int, size: Int = 48) -> GrayImage {
        GrayImage(width: size, height: size, pixels: (0..<size * size).map { UInt8(($0 * 7 + seed * 31) % 251) })
    }

    /// train/{angry,happy,unknownclass}, test/happy; one corrupt PNG, one text file, one 96x96 PNG.
    static func makeTree() throws -> (TemporaryDirectory, GrayImage, GrayImage) {
        let folder = try TemporaryDirectory()
        let first = face(1), third = face(3)
        try folder.write(try first.pngData(), to: "train/angry/Training_1.png")
        try folder.write(try face(2).jpegData(quality: 95), to: "train/angry/Training_2.jpg")
        var doubled = GrayImage(width: 96, height: 96)
        for y in 0..<96 { for x in 0..<96 { doubled[x, y] = third[x / 2, y / 2] } }
        try folder.write(try doubled.pngData(), to: "train/happy/Training_3.png")
        try folder.write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3], to: "train/happy/Training_4.png")
        try folder.write(Array("not an image".utf8), to: "train/happy/notes.txt")
        try folder.write(try face(5).pngData(), to: "train/unknownclass/Training_5.png")
        try folder.write(try face(6).jpegData(), to: "test/happy/PublicTest_6.jpg")
        return (folder, first, third)
    }

    /// Images that are not square are stretched to the square, and the report says how many and names the first.
    /// Entries of class folders that are not read (other formats, files without an extension, subfolders) are counted
    /// in a note naming the first: they were ignored without a word, `--strict` or not. A subfolder named like an image
    /// is a subfolder (it was read as an undecodable image, fatal with `--strict`).
    @Test func ignoredEntriesAreNoted() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write(try Self.face(1).pngData(), to: "test/happy/a.png")
        try folder.write(try Self.face(2).pngData(), to: "test/happy/b.webp")
        try folder.write(try Self.face(3).pngData(), to: "test/happy/more/c.png")
        try folder.write(try Self.face(3).pngData(), to: "test/happy/old.jpg/d.png")
        try folder.write(try Self.face(4).pngData(), to: "test/sad/noextension")
        try folder.write([0], to: "test/sad/.DS_Store")
        let (dataset, report) = try ImageFolderLoader(strict: true).load(root: folder.path, split: .publicTest)
        #expect(dataset.count == 1)
        #expect(report.notes.contains("ignored 4 entries of class folders that are not a .png, .jpg or .jpeg file (first: \(folder.path)/test/happy/b.webp)"),
                "\(report.notes)")
    }

    @Test func stretchedImagesAreNoted() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write(try Self.face(1).pngData(), to: "test/happy/a.png")
        try folder.write(try GrayImage(width: 60, height: 40).pngData(), to: "test/happy/b.png")
        try folder.write(try GrayImage(width: 30, height: 50).pngData(), to: "test/sad/c.png")
        let (dataset, report) = try ImageFolderLoader().load(root: folder.path, split: .publicTest)
        #expect(dataset.count == 3)
        #expect(report.notes.contains("2 of 3 images are not square (first: \(folder.path)/test/happy/b.png, 60x40) and were stretched to 48x48; crop them to squares around the faces to keep their proportions"),
                "\(report.notes)")
    }

    @Test func loadsDecodableImagesAndReportsTheRest() throws {
        let (folder, first, third) = try Self.makeTree()
        defer { folder.remove() }
        let (dataset, report) = try ImageFolderLoader().load(root: folder.path, split: .training)
        #expect(dataset.count == 3)
        #expect(dataset.labels == [Emotion.angry.rawValue, Emotion.angry.rawValue, Emotion.happy.rawValue])
        #expect(dataset.image(at: 0) == first)
        #expect(dataset.image(at: 2) == third) // 96x96 area-resized back to 48x48 exactly
        let jpeg = dataset.image(at: 1).pixels, expected = Self.face(2).pixels
        #expect(zip(jpeg, expected).map { abs(Int($0) - Int($1)) }.max()! <= 40)
        #expect(report.skipped.count == 2)
        #expect(report.skipped.contains { $0.location.hasSuffix("train/happy/Training_4.png") && $0.reason.contains("corrupt") })
        #expect(report.skipped.contains { $0.location.hasSuffix("train/unknownclass") && $0.reason.contains("unknown class") })
        #expect(dataset.classCounts == [2, 0, 0, 1, 0, 0, 0])
        // Sources name the class folder too: FER2013 has file names in two class folders (joined to FER+ votes).
        #expect(dataset.sources == ["angry/Training_1.png", "angry/Training_2.jpg", "happy/Training_3.png"])
        #expect(report.notes == ["no disgust, fear, sad, surprise, neutral images (class folders missing or empty)",
                                 "ignored 1 entry of class folders that is not a .png, .jpg or .jpeg file (first: \(folder.path)/train/happy/notes.txt)"])
        #expect(report.description.hasPrefix("\(folder.path)/train: loaded 3 images"), "\(report)")
    }

    /// In a train/ val/ test/ layout PublicTest (validation, model selection) is val/, not the held-out test/; a
    /// split whose class folders all have other names says so.
    @Test func validationComesFromValBeforeTest() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write(try Self.face(1).pngData(), to: "val/sad/a.png")
        try folder.write(try Self.face(2).pngData(), to: "test/happy/b.png")
        try folder.write(try Self.face(3).pngData(), to: "train/Rage/c.png")
        let (validation, report) = try ImageFolderLoader().load(root: folder.path, split: .publicTest)
        #expect(validation.labels == [Emotion.sad.rawValue] && report.source == folder.path + "/val")
        let (heldOut, _) = try ImageFolderLoader().load(root: folder.path, split: .privateTest)
        #expect(heldOut.labels == [Emotion.happy.rawValue])
        let error = try #require(throws: DataError.self) { try ImageFolderLoader().load(root: folder.path, split: .training) }
        #expect(error.description.contains("no class folder with an emotion's name (found Rage; expected angry, disgust"),
                "\(error)")
        // Roboflow's exports name the validation folder valid/: it is PublicTest, and test/ the held-out test.
        let exported = try TemporaryDirectory()
        defer { exported.remove() }
        try exported.write(try Self.face(1).pngData(), to: "valid/sad/a.png")
        try exported.write(try Self.face(2).pngData(), to: "test/happy/b.png")
        let (valid, validReport) = try ImageFolderLoader().load(root: exported.path, split: .publicTest)
        #expect(valid.labels == [Emotion.sad.rawValue] && validReport.source == exported.path + "/valid")
        #expect(try ImageFolderLoader().load(root: exported.path, split: .privateTest).0.labels == [Emotion.happy.rawValue])
    }

    /// Kaggle's image copy of FER2013 keeps both test splits in test/, told apart by their files' prefixes: PublicTest
    /// (validation) leaves PrivateTest's files out (they were validated on), and PrivateTest reads them.
    @Test func aSharedTestFolderIsSplitByPrefix() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let files = ["train/sad/Training_1.png", "test/happy/PublicTest_2.png", "test/angry/PrivateTest_3.png",
                     "test/angry/PrivateTest_4.png"]
        for (index, file) in files.enumerated() { try folder.write(try Self.face(index + 1).pngData(), to: file) }
        let (validation, report) = try ImageFolderLoader().load(root: folder.path, split: .publicTest)
        #expect(validation.labels == [Emotion.happy.rawValue], "\(validation.sources)")
        #expect(report.notes.contains("\(folder.path)/test holds both test splits: 2 PrivateTest_ files left out of PublicTest"),
                "\(report.notes)")
        let (heldOut, heldOutReport) = try ImageFolderLoader().load(root: folder.path, split: .privateTest)
        #expect(heldOut.labels == [Emotion.angry.rawValue, Emotion.angry.rawValue], "\(heldOut.sources)")
        #expect(heldOutReport.notes.contains { $0.contains("1 PublicTest_ file left out of PrivateTest") }, "\(heldOutReport.notes)")
    }

    /// Class folders spelt as other datasets spell them (FER+'s nouns, adjectives) hold their emotion.
    @Test func otherSpellingsOfClassFolders() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let spellings = ["Anger", "disgusted", "fearful", "happiness", "Sadness", "surprised", "neutral"]
        for (index, name) in spellings.enumerated() {
            try folder.write(try Self.face(index + 1).pngData(), to: "train/\(name)/\(index).png")
        }
        let (training, _) = try ImageFolderLoader().load(root: folder.path, split: .training)
        #expect(training.classCounts == [Int](repeating: 1, count: 7))
        #expect(Emotion(folderName: "contempt") == nil && Emotion(name: "happiness") == nil)
    }

    @Test func loadingIsDeterministic() throws {
        let (folder, _, _) = try Self.makeTree()
        defer { folder.remove() }
        let first = try ImageFolderLoader().load(root: folder.path, split: .training)
        let second = try ImageFolderLoader().load(root: folder.path, split: .training)
        #expect(first.0 == second.0 && first.1 == second.1)
    }

    @Test func testSplitAndCustomSize() throws {
        let (folder, _, _) = try Self.makeTree()
        defer { folder.remove() }
        let (dataset, report) = try ImageFolderLoader(imageSize: 24).load(root: folder.path, split: .publicTest)
        #expect(dataset.count == 1 && dataset.imageSize == 24 && dataset.labels == [3])
        #expect(report.skipped.isEmpty)
    }

    @Test func strictModeThrows() throws {
        let (folder, _, _) = try Self.makeTree()
        defer { folder.remove() }
        #expect(throws: DataError.self) { try ImageFolderLoader(strict: true).load(root: folder.path, split: .training) }
    }

    @Test func missingSplitFolderListsWhatExists() throws {
        let (folder, _, _) = try Self.makeTree()
        defer { folder.remove() }
        #expect(throws: DataError.splitFolderMissing(root: folder.path, split: .privateTest,
                                                     expected: Split.privateTest.folderNames, found: ["test", "train"])) {
            try ImageFolderLoader().load(root: folder.path, split: .privateTest)
        }
    }
}
