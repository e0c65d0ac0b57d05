import Emovere
import EmovereTensor
import EmovereVision
import Foundation
import Testing

/// `emovere analyze` end to end on the bundled sample photo, with the bundled model when the checkout has one
/// and otherwise a tiny model trained here, and the test copy of OpenCV's frontal-face cascade.
@Suite(.serialized, .enabled(if: CommandRunner.executable != nil, "the emovere executable is not built"))
struct AnalyzeTests {
    /// The package root (this file is `Tests/EmovereCLITests/AnalyzeTests.swift`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let sample = root + "/samples/astronaut.jpg"
    static let cascade = root + "/Tests/EmovereVisionTests/Fixtures/haarcascade_frontalface_default.xml"
    static let emotionNames: Set<String> = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]

    /// `models/default.safetensors` when present, else a tiny-cnn model trained once for this suite on a
    /// synthetic dataset (so the tests never pass without running a model).
    static let model: Result<String, TrainingFailure> = {
        let bundled = root + "/models/default.safetensors"
        if FileManager.default.fileExists(atPath: bundled) { return .success(bundled) }
        do {
            let folder = fallbackFolder
            atexit { try? FileManager.default.removeItem(atPath: AnalyzeTests.fallbackFolder) }
            try CommandLineTests.writeDataset(to: folder + "/data", trainingPerClass: 4, testPerClass: 1)
            let train = try CommandRunner.run([
                "train", "--data", folder + "/data", "--out", folder + "/run", "--model", "tiny-cnn",
                "--input-size", "48", "--batch-size", "8", "--augmentation", "none", "--epochs", "1",
            ])
            guard train.status == 0 else { return .failure(TrainingFailure(message: "\(train)")) }
            return .success(folder + "/run/best.safetensors")
        } catch {
            return .failure(TrainingFailure(message: "\(error)"))
        }
    }()

    /// Where the fallback model is trained; removed when the test process exits.
    static let fallbackFolder = FileManager.default.temporaryDirectory
        .appendingPathComponent("emovere-analyze-tests-model-\(UUID().uuidString)").path

    struct TrainingFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { "training the fallback model failed: \(message)" }
    }

    /// Runs `emovere analyze` with the model (and the test cascade where Haar is chosen), `environment` added to this
    /// process's.
    static func analyze(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandRunner.Result {
        let modelPath = try model.get()
        return try CommandRunner.run(["analyze"] + arguments + ["--model", modelPath] + cascadeOption(for: arguments),
                                     environment: environment)
    }

    /// `--cascade` with the test cascade when `arguments` choose Haar: the option is refused with another detector.
    static func cascadeOption(for arguments: [String]) -> [String] {
        zip(arguments, arguments.dropFirst()).contains { $0 == ("--detector", "haar") } ? ["--cascade", cascade] : []
    }

    /// The JSON array printed by `analyze --json`.
    static func photos(_ result: CommandRunner.Result) throws -> [[String: Any]] {
        let parsed = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
        return try #require(parsed as? [[String: Any]], "expected a JSON array of objects:\n\(result)")
    }

    /// A JSON number as a Double (JSONSerialization may give an integer for 0 or 1).
    static func number(_ value: Any?) -> Double? {
        if let number = value as? NSNumber { return number.doubleValue }
        if let double = value as? Double { return double }
        if let integer = value as? Int { return Double(integer) }
        return nil
    }

    @Test func sampleGivesOneFaceWithTheDocumentedSchema() throws {
        let result = try Self.analyze([Self.sample, "--json"])
        try #require(result.status == 0, "\(result)")
        let photos = try Self.photos(result)
        try #require(photos.count == 1, "\(result)")
        let photo = photos[0]
        #expect(photo["path"] as? String == Self.sample)
        #expect(photo["width"] as? Int == 512)
        #expect(photo["height"] as? Int == 512)
        #expect(photo["error"] == nil)
        let faces = try #require(photo["faces"] as? [[String: Any]], "\(result)")
        try #require(faces.count == 1, "expected exactly one face:\n\(result)")
        let face = faces[0]
        let box = try #require(face["box"] as? [String: Int], "\(result)")
        let x = try #require(box["x"]), y = try #require(box["y"])
        let width = try #require(box["width"]), height = try #require(box["height"])
        #expect(x >= 0 && y >= 0 && width >= 24 && height >= 24 && x + width <= 512 && y + height <= 512, "\(box)")
        let rawProbabilities = try #require(face["probabilities"] as? [String: Any], "\(result)")
        let probabilities = rawProbabilities.compactMapValues(Self.number)
        #expect(probabilities.count == rawProbabilities.count, "\(rawProbabilities)")
        #expect(Set(probabilities.keys) == Self.emotionNames)
        #expect(abs(probabilities.values.reduce(0, +) - 1) < 1e-3, "\(probabilities)")
        #expect(probabilities.values.allSatisfy { (0...1).contains($0) })
        let emotion = try #require(face["emotion"] as? String)
        let confidence = try #require(Self.number(face["confidence"]))
        #expect(Self.emotionNames.contains(emotion))
        let best = try #require(probabilities.max { $0.value < $1.value })
        #expect(best.key == emotion && abs(best.value - confidence) < 1e-6, "\(face)")
    }

    /// `--tta` overrides the card's test-time augmentation: each choice gives its own probabilities.
    @Test func ttaOptionChangesTheViewsAveraged() throws {
        var answers: [String: [String: Double]] = [:]
        for tta in ["none", "flip", "flip-crop", "ten-crop"] {
            let result = try Self.analyze([Self.sample, "--json", "--tta", tta])
            try #require(result.status == 0, "\(result)")
            let faces = try #require(try Self.photos(result).first?["faces"] as? [[String: Any]], "\(result)")
            let probabilities = try #require(faces.first?["probabilities"] as? [String: Any], "\(result)")
            answers[tta] = probabilities.compactMapValues(Self.number)
        }
        #expect(Set(answers.values).count == 4, "\(answers)")
        let wrong = try Self.analyze([Self.sample, "--tta", "twelve-crop"])
        #expect(wrong.status != 0 && wrong.standardError.contains("twelve-crop"), "\(wrong)")
    }

    /// `--precision bfloat16` keeps the answer: the same emotion, every probability within 0.02 of float32's. Where the
    /// CPU runs bfloat16 the probabilities move (its kernels ran); elsewhere they are float32's and a note says so.
    @Test func bfloat16PrecisionKeepsTheAnswer() throws {
        var answers: [Precision: (emotion: String, probabilities: [String: Double])] = [:]
        for precision in Precision.allCases {
            let result = try Self.analyze([Self.sample, "--json", "--precision", precision.rawValue])
            try #require(result.status == 0, "\(result)")
            let face = try #require((try Self.photos(result).first?["faces"] as? [[String: Any]])?.first, "\(result)")
            let probabilities = try #require(face["probabilities"] as? [String: Any], "\(result)")
            answers[precision] = (try #require(face["emotion"] as? String), probabilities.compactMapValues(Self.number))
            #expect(result.standardError.contains("bfloat16 needs AVX512_BF16") == !precision.isSupported, "\(result)")
        }
        let single = try #require(answers[.float32]), halves = try #require(answers[.bfloat16])
        #expect(halves.emotion == single.emotion)
        let differences = single.probabilities.map { abs($0.value - (halves.probabilities[$0.key] ?? 2)) }
        #expect(differences.allSatisfy { $0 <= 0.02 }, "\(single) \(halves)")
        #expect(differences.contains { $0 > 0 } == Precision.isBFloat16Supported, "\(differences)")
        let wrong = try Self.analyze([Self.sample, "--precision", "float16"])
        #expect(wrong.status != 0 && wrong.standardError.contains("float16"), "\(wrong)")
    }

    @Test func folderWithAnUnreadableFileReportsTheGoodOneAndExitsWithOne() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let folder = scratch.path + "/photos"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.sample, toPath: folder + "/good.jpg")
        try Data("this is not a photo".utf8).write(to: URL(fileURLWithPath: folder + "/broken.png"))
        // A named pipe nobody writes to: reading it would block forever.
        try #require(mkfifo(folder + "/pipe.jpg", 0o644) == 0)
        // A file whose name is not UTF-8 (Latin-1 "café.jpg"): named in a clear warning.
        let latin1 = Array((folder + "/caf").utf8CString.dropLast()) + [CChar(bitPattern: 0xE9)] + Array(".jpg".utf8CString)
        let descriptor = latin1.withUnsafeBufferPointer { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        try #require(descriptor >= 0)
        close(descriptor)

        let result = try Self.analyze([folder, "--json"])
        #expect(result.status == 1, "\(result)")
        #expect(result.standardError.contains("broken.png"), "\(result)")
        #expect(result.standardError.contains("skipping \(folder)/pipe.jpg: not a regular file"), "\(result)")
        #expect(result.standardError.contains("its name is not valid UTF-8"), "\(result)")
        let pipe = try Self.analyze([folder + "/pipe.jpg"])
        #expect(pipe.status != 0 && pipe.standardError.contains("is not a regular file"), "\(pipe)")
        let photos = try Self.photos(result)
        try #require(photos.count == 2, "\(result)")
        let good = try #require(photos.first { ($0["path"] as? String)?.hasSuffix("good.jpg") == true })
        #expect(good["width"] as? Int == 512 && good["error"] == nil)
        #expect((good["faces"] as? [[String: Any]])?.count == 1, "\(good)")
        let broken = try #require(photos.first { ($0["path"] as? String)?.hasSuffix("broken.png") == true })
        #expect(broken["error"] is String)
        #expect((broken["faces"] as? [Any])?.isEmpty == true)

        let table = try Self.analyze([folder])
        #expect(table.status == 1)
        #expect(table.standardOutput.contains("good.jpg (512x512): 1 face"), "\(table)")
        // The failure is reported once, on standard error, with the path once; the table lists the analysed photos.
        #expect(!table.standardOutput.contains("broken.png"), "\(table)")
        let reported = table.standardError.split(separator: "\n").filter { $0.contains("broken.png") }
        #expect(reported.count == 1 && reported[0].hasPrefix("error: \(folder)/broken.png: ")
                && reported[0].components(separatedBy: "broken.png").count == 2, "\(reported)")
    }

    /// A folder without photos is an error that says where nothing was found, not a silent success; a photo named
    /// in a list that does not exist is reported by name (status 1) while the others go on; an empty list is nothing
    /// to do.
    @Test func nothingToAnalyseIsAnError() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        try Data("not a photo".utf8).write(to: URL(fileURLWithPath: scratch.path + "/notes.txt"))
        let folder = try Self.analyze([scratch.path])
        #expect(folder.status == 1 && folder.standardError.contains("no photos to analyse in \(scratch.path): expected .jpg"),
                "\(folder)")
        // A list (with a byte-order mark) naming a missing photo and the sample: status 1, the missing one named with
        // the reason, the sample analysed; no usage text, as for a bad option.
        try Data(("\u{FEFF}not a photo\n" + Self.sample + "\n").utf8).write(to: URL(fileURLWithPath: scratch.path + "/list.txt"))
        let list = try Self.analyze(["--files-from", scratch.path + "/list.txt", "--tta", "none"])
        #expect(list.status == 1 && list.standardError.contains("error: not a photo: ")
                    && list.standardError.contains("No such file") && !list.standardError.contains("USAGE"), "\(list)")
        #expect(list.standardOutput.contains("astronaut.jpg (512x512): 1 face"), "\(list)")
        try Data().write(to: URL(fileURLWithPath: scratch.path + "/empty.txt"))
        // An empty list is nothing to do (a scheduled job with no new photos), said but not a failure.
        let empty = try Self.analyze(["--files-from", scratch.path + "/empty.txt"])
        #expect(empty.status == 0 && empty.standardError.contains("no photos listed in \(scratch.path)/empty.txt"), "\(empty)")
    }

    /// An executable installed without the bundled detector beside it says where it looked and what to pass
    /// instead, and the remedy it names works.
    @Test func missingBundledDetectorNamesTheRemedy() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let installed = scratch.path + "/bin/emovere"
        try FileManager.default.createDirectory(atPath: scratch.path + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: try #require(CommandRunner.executable), to: URL(fileURLWithPath: installed))
        let arguments = ["analyze", Self.sample, "--model", try Self.model.get()]
        let missing = try CommandRunner.run(arguments, in: scratch.path, executable: installed)
        #expect(missing.status == 1 && missing.standardError.contains("no bundled \(YuNetDetector.bundledFileName) found")
                && missing.standardError.contains("pass --yunet-model, or choose --detector haar"), "\(missing)")
        let haar = try CommandRunner.run(arguments + ["--detector", "haar", "--cascade", Self.cascade],
                                         in: scratch.path, executable: installed)
        #expect(haar.status == 0, "\(haar)")
    }

    /// An installed layout (deploy/Containerfile's: bin/emovere with the server resources beside it, the models in
    /// share/emovere/) finds the bundled model and YuNet from any folder, the executable named by its bare name on
    /// PATH (the container's entry point; argv[0] then names no folder).
    @Test func installedLayoutFindsTheBundledFiles() throws {
        try #require(FileManager.default.fileExists(atPath: Self.root + "/models/default.safetensors"),
                     "the bundled default model is committed")
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let manager = FileManager.default
        try manager.createDirectory(atPath: scratch.path + "/bin", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: scratch.path + "/share/emovere", withIntermediateDirectories: true)
        try manager.copyItem(at: try #require(CommandRunner.executable), to: URL(fileURLWithPath: scratch.path + "/bin/emovere"))
        for name in ["default.safetensors", YuNetDetector.bundledFileName] {
            try manager.copyItem(atPath: Self.root + "/models/" + name, toPath: scratch.path + "/share/emovere/" + name)
        }
        let script = "cd / && PATH=\"$1/bin:$PATH\" exec emovere analyze \"$2\" --tta none"
        let result = try CommandRunner.run(["-c", script, "sh", scratch.path, Self.sample], executable: "/bin/sh")
        #expect(result.status == 0 && result.standardOutput.contains("astronaut.jpg (512x512): 1 face"), "\(result)")
    }

    /// A photo whose name starts with a dash (a `*.jpg` glob can produce one) is not taken for options: the command
    /// says to put `--` before it, and with `--` it is analysed.
    @Test func pathStartingWithADashNeedsTheSeparator() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        try FileManager.default.copyItem(atPath: Self.sample, toPath: scratch.path + "/-face.jpg")
        let model = try Self.model.get()
        let refused = try CommandRunner.run(["analyze", "-face.jpg", "--model", model],
                                            in: scratch.path)
        #expect(refused.status == 64 && refused.standardError.contains("put -- before it"), "\(refused)")
        let analysed = try CommandRunner.run(["analyze", "--model", model, "--tta", "none",
                                              "--", "-face.jpg"], in: scratch.path)
        #expect(analysed.status == 0 && analysed.standardOutput.contains("-face.jpg (512x512): 1 face"), "\(analysed)")
        // An option's value cannot follow `--`: the advice is the ./ spelling.
        let asValue = try CommandRunner.run(["analyze", "--files-from", "-face.jpg", "--model", model], in: scratch.path)
        #expect(asValue.status == 64 && asValue.standardError.contains("write it as ./-face.jpg (--files-from ./-face.jpg)")
                && !asValue.standardError.contains("put -- before it"), "\(asValue)")
    }

    /// A path whose bytes are not UTF-8 (here Latin-1 `café.jpg`) is refused up front with the reason, not reported
    /// as a missing file under a repaired name; in a folder it is skipped with a warning and the rest analysed.
    @Test func pathThatIsNotUTF8IsRefusedWithTheReason() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let binary = try #require(CommandRunner.executable).path
        let folder = scratch.path + "/photos"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.sample, toPath: folder + "/plain.jpg")
        // Process takes String arguments, so the shell writes the Latin-1 byte: \351 is é.
        let script = "cp \"$1\" \"$2/$(printf 'caf\\351.jpg')\" && \"$0\" analyze \"$2/$(printf 'caf\\351.jpg')\""
        let direct = try CommandRunner.run(["-c", script, binary, Self.sample, folder], executable: "/bin/sh")
        #expect(direct.status == 64 && direct.standardError.contains("argument 2") && direct.standardError.contains("not valid UTF-8"),
                "\(direct)")
        let listed = try Self.analyze([folder, "--tta", "none"])
        #expect(listed.status == 0 && listed.standardOutput.contains("plain.jpg (512x512): 1 face"), "\(listed)")
        #expect(listed.standardError.contains("its name is not valid UTF-8"), "\(listed)")
    }

    /// Control characters in a file name (an escape sequence, a line break) are printed escaped, in the table and in
    /// messages, so a name cannot drive the terminal or add a line; the JSON keeps the name as it is.
    @Test func controlCharactersInNamesArePrintedEscaped() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let name = scratch.path + "/a\u{1B}[31mred\nline.jpg"
        try FileManager.default.copyItem(atPath: Self.sample, toPath: name)
        let shown = scratch.path + "/a\\u{1B}[31mred\\u{A}line.jpg"
        let table = try Self.analyze([name, "--tta", "none"])
        #expect(table.status == 0 && table.standardOutput.hasPrefix("\(shown) (512x512): 1 face\n"), "\(table)")
        let json = try Self.analyze([name, "--tta", "none", "--json"])
        #expect(try Self.photos(json).first?["path"] as? String == name, "\(json)")
        let missing = try Self.analyze([scratch.path + "/gone\u{1B}[2J.jpg"])
        #expect(missing.status != 0 && missing.standardError.contains("gone\\u{1B}[2J.jpg")
                && !missing.standardError.contains("\u{1B}"), "\(missing)")
    }

    /// `--output` appends one JSON line per photo; shards split the photos between runs, `--resume` skips the photos
    /// already written and cuts off a partial last line; together they give the lines of one whole run.
    @Test func shardedResumableRunsGiveTheLinesOfOneRun() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let folder = scratch.path + "/photos"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in ["a", "b", "c", "d", "e"] { try FileManager.default.copyItem(atPath: Self.sample, toPath: folder + "/\(name).jpg") }
        let whole = scratch.path + "/whole.jsonl", parts = scratch.path + "/parts.jsonl", list = scratch.path + "/list.txt"
        try #require(try Self.analyze([folder, "--output", whole, "--tta", "none"]).status == 0)
        let first = try Self.analyze([folder, "--output", parts, "--shard", "1/2", "--tta", "none"])
        try #require(first.status == 0, "\(first)")
        // A run killed while writing leaves half a line.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: parts))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"path\":\"/half".utf8))
        try handle.close()
        try ["c", "d", "e", "a"].map { folder + "/\($0).jpg" }.joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
        let second = try Self.analyze(["--files-from", list, folder + "/b.jpg", "--output", parts, "--resume", "--tta", "none"])
        try #require(second.status == 0, "\(second)")
        #expect(second.standardError.contains("note: \(parts): cut off its unfinished last line"), "\(second)")
        func lines(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init).sorted()
        }
        let wholeLines = try lines(whole), partLines = try lines(parts)
        #expect(partLines == wholeLines)
        #expect(wholeLines.count == 5)
        let line = try #require(try JSONSerialization.jsonObject(with: Data(wholeLines[0].utf8)) as? [String: Any])
        let sampleSize = try Data(contentsOf: URL(fileURLWithPath: Self.sample)).count
        let modelPath = try Self.model.get()
        #expect((line["sha256"] as? String)?.count == 64 && line["bytes"] as? Int == sampleSize)
        #expect(line["model"] as? String == modelPath)
        let again = try Self.analyze([folder, "--output", whole])
        #expect(again.status != 0 && again.standardError.contains("--resume"), "\(again)")
        let badShard = try Self.analyze([folder, "--shard", "3/2"])
        #expect(badShard.status != 0 && badShard.standardError.contains("--shard"), "\(badShard)")
    }

    /// A photo over `--max-pixels` is refused from its header, by name, and the exit status says so.
    @Test func photoOverThePixelLimitIsReportedByName() throws {
        let result = try Self.analyze([Self.sample, "--json", "--max-pixels", "1000"])
        #expect(result.status == 1, "\(result)")
        #expect(result.standardError.contains("astronaut.jpg") && result.standardError.contains("512x512"), "\(result)")
        let photos = try Self.photos(result)
        #expect((photos.first?["error"] as? String)?.contains("limit is 1000 pixels") == true, "\(result)")
    }

    /// `--max-decoded-pixels` decodes the 512x512 sample at a reduced scale, still reporting its stored size; a limit
    /// that is not positive or above a gigapixel is refused before any photo is read.
    @Test func maxDecodedPixelsKeepsTheStoredSize() throws {
        let result = try Self.analyze([Self.sample, "--json", "--max-decoded-pixels", "70000"])
        try #require(result.status == 0, "\(result)")
        let photos = try Self.photos(result)
        #expect(photos.first?["width"] as? Int == 512 && photos.first?["height"] as? Int == 512, "\(result)")
        let refused = try Self.analyze([Self.sample, "--max-decoded-pixels", "0"])
        #expect(refused.status != 0 && refused.standardError.contains("--max-decoded-pixels"), "\(refused)")
        // Above a gigapixel decoding would fail to allocate instead of refusing the photo by name.
        let huge = try Self.analyze([Self.sample, "--max-pixels", "2000000000"])
        #expect(huge.status != 0 && huge.standardError.contains("--max-pixels must be in 1...1000000000"), "\(huge)")
    }

    @Test func photoWithoutFacesGivesAnEmptyList() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        var pixels = [UInt8](repeating: 0, count: 160 * 120)
        for index in pixels.indices { pixels[index] = UInt8((index % 160) + (index / 160) / 2) }
        let path = scratch.path + "/gradient.png"
        try Data(try GrayImage(width: 160, height: 120, pixels: pixels).pngData()).write(to: URL(fileURLWithPath: path))

        let result = try Self.analyze([path, "--json"])
        try #require(result.status == 0, "\(result)")
        let photos = try Self.photos(result)
        try #require(photos.count == 1)
        #expect(photos[0]["width"] as? Int == 160 && photos[0]["height"] as? Int == 120)
        #expect((photos[0]["faces"] as? [Any])?.isEmpty == true, "\(result)")
    }

    @Test func annotateWritesADecodablePhotoOfTheSameSize() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let output = scratch.path + "/out.png"
        let result = try Self.analyze([Self.sample, "--json", "--annotate", output])
        try #require(result.status == 0, "\(result)")
        let photos = try Self.photos(result)
        #expect(photos.first?["annotation"] as? String == output)
        let faces = try #require(photos.first?["faces"] as? [[String: Any]], "\(result)")
        #expect(faces.count == 1, "\(result)")
        // Asking for an annotated copy does not change the analysis.
        let plain = try Self.analyze([Self.sample, "--json"])
        let plainFaces = try #require(try Self.photos(plain).first?["faces"] as? [[String: Any]], "\(plain)")
        #expect(NSArray(array: plainFaces).isEqual(to: faces), "with --annotate: \(faces)\nwithout: \(plainFaces)")

        let bytes = try ImageFile.bytes(atPath: output)
        #expect(ImageFormat(sniffing: bytes) == .png)
        let annotated = try RGBImage(decoding: bytes, source: output)
        let original = try RGBImage(contentsOf: Self.sample)
        #expect(annotated.width == 512 && annotated.height == 512)
        // The box, label and panel change a clear part of the photo, and leave most of it as it was.
        let changed = zip(annotated.pixels, original.pixels).filter { $0 != $1 }.count
        #expect(changed > 3 * 2_000 && changed < 3 * 512 * 512 / 2, "\(changed) bytes changed")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0 != "out.png" }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")

        let jpeg = scratch.path + "/out.JPG"
        let jpegResult = try Self.analyze([Self.sample, "--annotate", jpeg])
        try #require(jpegResult.status == 0, "\(jpegResult)")
        #expect(jpegResult.standardOutput.contains("annotated: \(jpeg)"), "\(jpegResult)")
        let jpegBytes = try ImageFile.bytes(atPath: jpeg)
        #expect(ImageFormat(sniffing: jpegBytes) == .jpeg)
        #expect(try RGBImage(decoding: jpegBytes, source: jpeg).width == 512)
    }

    @Test func annotateWithAFolderWritesOneFilePerPhoto() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let folder = scratch.path + "/photos"
        try FileManager.default.createDirectory(atPath: folder + "/nested", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.sample, toPath: folder + "/a.jpg")
        try FileManager.default.copyItem(atPath: Self.sample, toPath: folder + "/nested/a.jpg")
        // A name that differs only in case would replace a.jpg's copy on a case-insensitive disk.
        try FileManager.default.createDirectory(atPath: folder + "/other", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.sample, toPath: folder + "/other/A.jpg")
        let gray = try GrayImage(contentsOf: Self.sample).pngData()
        try Data(gray).write(to: URL(fileURLWithPath: folder + "/b.png"))
        // An output folder inside the input folder: its files must not be analysed on a second run.
        let output = folder + "/annotated"

        for _ in 0..<2 {
            let result = try Self.analyze([folder, "--annotate", output])
            try #require(result.status == 0, "\(result)")
            let written = try FileManager.default.contentsOfDirectory(atPath: output).sorted()
            #expect(written == ["A-3.annotated.jpg", "a-2.annotated.jpg", "a.annotated.jpg", "b.annotated.png"],
                    "\(result)")
        }
        let png = try RGBImage(contentsOf: output + "/b.annotated.png")
        #expect(png.width == 512 && png.height == 512)
    }

    /// An --annotate folder may be the input folder: the copies it already holds (by their names) are not analysed
    /// again, the photos are; a copy that would replace a photo named as input is refused before any work; copies are
    /// named from the whole list, so a resumed run names them as one run would; an --annotate file name with
    /// several inputs (some from --files-from) is refused.
    @Test func annotatedCopiesNeverReplaceInputs() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let folder = scratch.path + "/in"
        try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.sample, toPath: folder + "/a.jpg")
        try FileManager.default.copyItem(atPath: Self.sample, toPath: folder + "/sub/a.jpg")
        for _ in 0..<2 {
            let result = try Self.analyze([folder, "--annotate", folder, "--tta", "none"])
            #expect(result.status == 0 && result.standardOutput.components(separatedBy: "(512x512): 1 face").count == 3,
                    "two photos analysed: \(result)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
                    == ["a-2.annotated.jpg", "a.annotated.jpg", "a.jpg", "sub"])
        }
        let named = folder + "/a.annotated.jpg"
        let before = try Data(contentsOf: URL(fileURLWithPath: named))
        let replacing = try Self.analyze([folder + "/sub/a.jpg", named, "--annotate", folder, "--tta", "none"])
        #expect(replacing.status == 1 && replacing.standardError.contains("would replace the photo \(named)"), "\(replacing)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: named)) == before)

        let results = scratch.path + "/r.jsonl", copies = scratch.path + "/copies"
        let first = try Self.analyze([folder + "/a.jpg", folder + "/sub/a.jpg", "--output", results, "--annotate", copies, "--tta", "none"])
        try #require(first.status == 0, "\(first)")
        let lines = try String(contentsOfFile: results, encoding: .utf8).split(separator: "\n")
        let kept = lines.filter { !$0.contains("/sub/a.jpg") }
        try (kept.joined(separator: "\n") + "\n").write(toFile: results, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: copies + "/a-2.annotated.jpg")
        // The copy a killed run was writing (its process gone) is removed.
        let abandoned = copies + "/.a-2.annotated.jpg.tmp-999999999-5e"
        try #require(FileManager.default.createFile(atPath: abandoned, contents: Data(count: 100)))
        let resumed = try Self.analyze([folder + "/a.jpg", folder + "/sub/a.jpg", "--output", results, "--annotate", copies,
                                        "--tta", "none", "--resume"])
        try #require(resumed.status == 0, "\(resumed)")
        #expect(resumed.standardError.contains("removed \(abandoned), a file left half written"), "\(resumed)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: copies).sorted() == ["a-2.annotated.jpg", "a.annotated.jpg"])
        let last = try String(contentsOfFile: results, encoding: .utf8).split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("/sub/a.jpg") && last.contains(#""annotation":"\#(copies)/a-2.annotated.jpg""#), "\(last)")

        try Data((folder + "/a.jpg\n").utf8).write(to: URL(fileURLWithPath: scratch.path + "/list.txt"))
        let shared = try Self.analyze([folder + "/sub/a.jpg", "--files-from", scratch.path + "/list.txt", "--annotate",
                                       scratch.path + "/one.png"])
        #expect(shared.status != 0 && shared.standardError.contains("there are 2 inputs"), "\(shared)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/one.png"))
    }

    /// `--resume` reads the whole file before changing it (a file of something else is refused untouched), tries the
    /// photos whose line records an error again, and refuses to mix in another detector's results.
    @Test func resumeChecksTheResultsFile() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let notes = scratch.path + "/notes.txt"
        try Data("line one\nline two".utf8).write(to: URL(fileURLWithPath: notes))
        let refused = try Self.analyze([Self.sample, "--output", notes, "--resume"])
        #expect(refused.status != 0 && refused.standardError.contains("notes.txt:1: expected a line of emovere analyze")
                && refused.standardError.contains("found text that is not JSON"), "\(refused)")
        #expect(try String(contentsOfFile: notes, encoding: .utf8) == "line one\nline two")

        let photo = scratch.path + "/photo.jpg", results = scratch.path + "/r.jsonl"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.sample))
        try bytes.prefix(200).write(to: URL(fileURLWithPath: photo))
        let broken = try Self.analyze([photo, "--output", results, "--tta", "none"])
        #expect(broken.status == 1 && broken.standardError.contains("0 photos done, 1 failed, appended to"), "\(broken)")
        try bytes.write(to: URL(fileURLWithPath: photo))
        let retried = try Self.analyze([photo, "--output", results, "--tta", "none", "--resume"])
        #expect(retried.status == 0 && retried.standardError.contains("1 photo done, appended"), "\(retried)")
        let lines = try String(contentsOfFile: results, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains(#""error""#) && lines[1].contains(#""faces":[{"#), "\(lines)")

        // Another detector's run is refused, and the file left as it was (its partial last line too).
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: results))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"path\":\"/half".utf8))
        try handle.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: results))
        let other = try Self.analyze([Self.sample, "--output", results, "--tta", "none", "--resume", "--detector", "haar"])
        #expect(other.status != 0 && other.standardError.contains("r.jsonl:1: written with the detector yunet")
                && other.standardError.contains("this run uses haar"), "\(other)")
        // So are another detector setting and another test-time augmentation.
        let smaller = try Self.analyze([Self.sample, "--output", results, "--tta", "none", "--resume", "--detection-size", "320"])
        #expect(smaller.status != 0 && smaller.standardError.contains("detection size 640")
                && smaller.standardError.contains("detection size 320"), "\(smaller)")
        let flipped = try Self.analyze([Self.sample, "--output", results, "--tta", "flip", "--resume"])
        #expect(flipped.status != 0 && flipped.standardError.contains("written with --tta none, this run uses flip"),
                "\(flipped)")
        // A file another run is writing (here this test holds its lock) is refused before it is read: two runs cut
        // off each other's lines and analysed photos twice.
        let locked = open(results, O_RDONLY)
        try #require(locked >= 0 && flock(locked, LOCK_EX | LOCK_NB) == 0)
        let concurrent = try Self.analyze([Self.sample, "--output", results, "--tta", "none", "--resume"])
        close(locked)
        #expect(concurrent.status != 0 && concurrent.standardError.contains("r.jsonl is being written by another emovere run"),
                "\(concurrent)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: results)) == before)
    }

    /// A results file larger than the reader's one-megabyte pieces resumes whole: lines split between two reads are
    /// read as one, and the photo whose line comes last is not analysed again.
    @Test func resumeReadsALargeFileInPieces() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let results = scratch.path + "/r.jsonl"
        let first = try Self.analyze([Self.sample, "--output", results, "--tta", "none"])
        try #require(first.status == 0, "\(first)")
        let line = try String(contentsOfFile: results, encoding: .utf8).trimmingCharacters(in: .newlines)
        var record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        var lines: [String] = []
        for index in 0..<4000 {
            record["path"] = "/elsewhere/\(index).jpg"
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: record), as: UTF8.self))
        }
        let text = (lines + [line]).joined(separator: "\n") + "\n"
        try #require(text.utf8.count > 2 << 20, "\(text.utf8.count) bytes")
        try text.write(toFile: results, atomically: true, encoding: .utf8)
        let again = try Self.analyze([Self.sample, "--output", results, "--tta", "none", "--resume"])
        #expect(again.status == 0 && again.standardError.contains("0 photos done"), "\(again)")
        #expect(try String(contentsOfFile: results, encoding: .utf8) == text)
    }

    /// A line whose write fails part-way (here past the file-size limit, as on a full disk) is cut back off and no
    /// line follows it: the file keeps whole lines only, the error names the reason, and a resume finishes the rest.
    @Test func aFailedAppendLeavesWholeLines() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let photos = (1...3).map { scratch.path + "/\($0).jpg" }
        for photo in photos { try FileManager.default.copyItem(atPath: Self.sample, toPath: photo) }
        let results = scratch.path + "/r.jsonl"
        let arguments = photos + ["--output", results, "--tta", "none", "--model", try Self.model.get()]
        let binary = try #require(CommandRunner.executable).path
        // SIGXFSZ ignored (inherited through exec): a write past the 1536-byte limit fails with EFBIG.
        let limited = try CommandRunner.run(["-c", #"trap "" XFSZ; ulimit -f 3; exec "$0" "$@""#, binary, "analyze"]
                                            + arguments, executable: "/bin/sh")
        #expect(limited.status != 0 && limited.standardError.contains("cannot append to \(results): File too large"),
                "\(limited)")
        let kept = try String(contentsOfFile: results, encoding: .utf8)
        #expect(kept.isEmpty || kept.hasSuffix("\n"), "\(kept.utf8.count) bytes, the last line partial")
        let resumed = try Self.analyze(arguments + ["--resume"])
        #expect(resumed.status == 0 && !resumed.standardError.contains("cut off"), "\(resumed)")
        let paths = try String(contentsOfFile: results, encoding: .utf8).split(separator: "\n").map { line in
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(record["path"] as? String)
        }
        #expect(paths.sorted() == photos.sorted())
    }

    /// `--resume` continues only a file of analyze's lines: a whole JSON object without its line break (what
    /// `json.dump` writes) is not a partial line to cut off, a list of paths without a model and detector is not
    /// a file of results, and video's results are not photos'; each is left as it was.
    @Test func resumeLeavesOtherJSONUntouched() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let cases = [("saved.json", #"{"precious": "data, no line break"}"#, "a whole JSON object without its line break"),
                     ("manifest.jsonl", #"{"path": "a.jpg", "label": "happy"}"# + "\n", #"a line without "model""#),
                     ("videos.jsonl", #"{"path":"a.mp4","model":"m.safetensors","detector":{"kind":"yunet"},"summary":{}}"#
                        + "\n", #"a line without "faces" (a line of video?)"#)]
        for (name, content, found) in cases {
            let file = scratch.path + "/" + name
            try Data(content.utf8).write(to: URL(fileURLWithPath: file))
            let refused = try Self.analyze([Self.sample, "--output", file, "--resume", "--tta", "none"])
            #expect(refused.status != 0 && refused.standardError.contains("\(name):1: expected a line of emovere analyze")
                    && refused.standardError.contains(found), "\(refused)")
            #expect(try String(contentsOfFile: file, encoding: .utf8) == content)
        }
    }

    /// Lines written before a run's settings were recorded (no `tta`, `precision` or detection size) are continued;
    /// a line is numbered as the file counts it, blank lines included, and a value this version does not know is
    /// named.
    @Test func resumeContinuesLinesOfEarlierVersions() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let results = scratch.path + "/r.jsonl", second = scratch.path + "/b.jpg"
        try #require(try Self.analyze([Self.sample, "--output", results, "--tta", "none"]).status == 0)
        let written = try String(contentsOfFile: results, encoding: .utf8)
        var line = try #require(try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any])
        #expect(line["tta"] as? String == "none" && (line["detector"] as? [String: Any])?["detectionSize"] as? Int == 640)
        line["tta"] = nil
        line["precision"] = nil
        var detector = try #require(line["detector"] as? [String: Any])
        detector["detectionSize"] = nil
        line["detector"] = detector
        let older = String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)
        try Data((older + "\n").utf8).write(to: URL(fileURLWithPath: results))
        try FileManager.default.copyItem(atPath: Self.sample, toPath: second)
        let resumed = try Self.analyze([Self.sample, second, "--output", results, "--tta", "none", "--resume"])
        #expect(resumed.status == 0 && resumed.standardError.contains("1 photo done"), "\(resumed)")

        let unknown = older.replacingOccurrences(of: #""path":"#, with: #""tta":"tenfold","path":"#)
        let numbered = scratch.path + "/numbered.jsonl"
        try Data((older + "\n\n" + unknown + "\n").utf8).write(to: URL(fileURLWithPath: numbered))
        let refused = try Self.analyze([Self.sample, "--output", numbered, "--tta", "none", "--resume"])
        #expect(refused.status != 0 && refused.standardError.contains(#"numbered.jsonl:3: expected"#)
                && refused.standardError.contains(#""tta" with a value this version does not know"#), "\(refused)")
    }

    /// A resumed run knows its photos however their paths are spelt, and a photo added to the collection never takes
    /// the name of a copy an earlier line names (by position it would: `b/x.jpg`'s copy was `x.annotated.jpg`, and the
    /// new `a/x.jpg` sorts first). The results file's missing folders are made.
    @Test func resumedRunsKnowTheirPhotosAndCopies() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let collection = scratch.path + "/collection", results = scratch.path + "/new/folder/r.jsonl"
        let copies = scratch.path + "/copies"
        try FileManager.default.createDirectory(atPath: collection + "/b", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.sample, toPath: collection + "/b/x.jpg")
        let first = try Self.analyze([collection, "--output", results, "--annotate", copies, "--tta", "none"])
        try #require(first.status == 0, "\(first)")
        try FileManager.default.createDirectory(atPath: collection + "/a", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.sample, toPath: collection + "/a/x.jpg")
        let second = try Self.analyze([scratch.path + "/./collection/", "--output", results, "--annotate", copies,
                                       "--tta", "none", "--resume"])
        #expect(second.status == 0 && second.standardError.contains("1 photo done, appended"), "\(second)")
        let lines = try String(contentsOfFile: results, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "b/x.jpg is not analysed again: \(lines)")
        #expect(lines.last?.contains("/a/x.jpg") == true
                && lines.last?.contains(#""annotation":"\#(copies)/x-2.annotated.jpg""#) == true, "\(lines)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: copies).sorted()
                == ["x-2.annotated.jpg", "x.annotated.jpg"])
    }

    /// Inputs as a shell gives them: a link to a folder, a list from process substitution (a pipe), a folder with a
    /// broken link (reported, exit status 1); the worker mode answers a blank line too (a driver waits for each).
    @Test func inputsAsAShellGivesThem() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let folder = scratch.path + "/photos", link = scratch.path + "/linked"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.sample, toPath: folder + "/a.jpg")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder)
        let linked = try Self.analyze([link, "--tta", "none"])
        #expect(linked.status == 0 && linked.standardOutput.contains("linked/a.jpg (512x512): 1 face"), "\(linked)")

        // Inside a folder, a link to another folder is followed (a collection gathered with links); a link back to a
        // folder above is entered once, not without end.
        let gathered = scratch.path + "/gathered"
        try FileManager.default.createDirectory(atPath: gathered, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: gathered + "/2024", withDestinationPath: folder)
        try FileManager.default.createSymbolicLink(atPath: gathered + "/loop", withDestinationPath: gathered)
        let followed = try Self.analyze([gathered, "--tta", "none"])
        #expect(followed.status == 0 && followed.standardOutput.contains("gathered/2024/a.jpg (512x512): 1 face")
                && followed.standardOutput.components(separatedBy: "1 face").count == 2, "\(followed)")

        try FileManager.default.createSymbolicLink(atPath: folder + "/gone.jpg", withDestinationPath: scratch.path + "/nowhere.jpg")
        let broken = try Self.analyze([folder, "--tta", "none"])
        #expect(broken.status == 1 && broken.standardError.contains("gone.jpg")
                && broken.standardOutput.contains("a.jpg (512x512): 1 face"), "\(broken)")

        let emovere = try #require(CommandRunner.executable).path, model = try Self.model.get()
        let piped = try CommandRunner.run(["-c", """
            "$0" analyze --files-from <(echo "$1") --model "$2" --tta none --json &&
            printf '\\n%s\\n' "$1" | "$0" analyze --files-from - --output - --model "$2" --tta none
            """, emovere, Self.sample, model], executable: "/bin/bash")
        #expect(piped.status == 0, "\(piped)")
        let answers = piped.standardOutput.split(separator: "\n").filter { $0.hasPrefix("{\"") }
        #expect(piped.standardOutput.contains("\"path\" : \"\(Self.sample)\""), "the listed photo: \(piped)")
        #expect(answers.count == 2 && answers[0].contains("received an empty line")
                && answers[1].contains(#""faces":[{"#), "\(piped)")
    }

    @Test func annotateRejectsUnusableOutputs() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let text = try Self.analyze([Self.sample, "--annotate", scratch.path + "/out.txt"])
        #expect(text.status != 0)
        #expect(text.standardError.contains("out.txt") && text.standardError.contains(".png"), "\(text)")

        let copy = scratch.path + "/photo.jpg"
        try FileManager.default.copyItem(atPath: Self.sample, toPath: copy)
        let overwrite = try Self.analyze([copy, "--annotate", copy])
        #expect(overwrite.status != 0)
        #expect(overwrite.standardError.contains("--annotate \(copy) is the photo"), "\(overwrite)")

        let file = scratch.path + "/file.png"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: file))
        let folderIntoFile = try Self.analyze([Self.sample, copy, "--annotate", file])
        #expect(folderIntoFile.status != 0)
        #expect(folderIntoFile.standardError.contains("output folder"), "\(folderIntoFile)")

        // A missing input is reported before anything is created.
        let missing = try Self.analyze([scratch.path + "/missing.jpg", "--annotate", scratch.path + "/made.png"])
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("missing.jpg"), "\(missing)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/made.png"))
    }
}
