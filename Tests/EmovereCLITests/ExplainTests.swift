import EmovereVision
import Foundation
import Testing

/// `emovere explain` end to end on the bundled sample photo, with the model and cascade of `AnalyzeTests`.
@Suite(.serialized, .enabled(if: CommandRunner.executable != nil, "the emovere executable is not built"))
struct ExplainTests {
    /// Runs `emovere explain` with the test model (and the test cascade where Haar is chosen).
    static func explain(_ arguments: [String]) throws -> CommandRunner.Result {
        let modelPath = try AnalyzeTests.model.get()
        return try CommandRunner.run(["explain"] + arguments + ["--model", modelPath]
                                     + AnalyzeTests.cascadeOption(for: arguments))
    }

    /// The JSON object printed by `explain --json`.
    static func report(_ result: CommandRunner.Result) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
        return try #require(parsed as? [String: Any], "expected a JSON object:\n\(result)")
    }

    @Test func sampleGetsAHeatMapOverItsFaceAndAGuidedPanel() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let output = scratch.path + "/heatmap.png", guided = scratch.path + "/guided.png"
        let result = try Self.explain([AnalyzeTests.sample, "--out", output, "--guided", guided, "--json"])
        try #require(result.status == 0, "\(result)")
        let report = try Self.report(result)
        #expect(report["output"] as? String == output && report["guided"] as? String == guided)
        #expect(report["width"] as? Int == 512 && report["height"] as? Int == 512)
        #expect((report["layer"] as? String)?.isEmpty == false)
        let faces = try #require(report["faces"] as? [[String: Any]], "\(result)")
        try #require(faces.count == 1, "\(result)")
        let emotion = try #require(faces[0]["emotion"] as? String)
        #expect(faces[0]["explained"] as? String == emotion, "the top emotion is explained by default")
        #expect(AnalyzeTests.emotionNames.contains(emotion))

        // The same face and probabilities as `analyze` (the unfolded model agrees with the folded one).
        let analyzed = try AnalyzeTests.analyze([AnalyzeTests.sample, "--json"])
        let analyzedFace = try #require((try AnalyzeTests.photos(analyzed).first?["faces"] as? [[String: Any]])?.first)
        #expect(analyzedFace["box"] as? [String: Int] == faces[0]["box"] as? [String: Int])
        #expect(analyzedFace["emotion"] as? String == emotion)

        // The heat map covers the face region and leaves the corners of the photo alone.
        let box = try #require(faces[0]["box"] as? [String: Int])
        let x = try #require(box["x"]), y = try #require(box["y"]), width = try #require(box["width"])
        let height = try #require(box["height"])
        let overlaid = try RGBImage(contentsOf: output)
        let original = try RGBImage(contentsOf: AnalyzeTests.sample)
        #expect(overlaid.width == 512 && overlaid.height == 512)
        var changedInside = 0
        for row in (y + height / 4)..<(y + 3 * height / 4) {
            for column in (x + width / 4)..<(x + 3 * width / 4) where overlaid[column, row] != original[column, row] {
                changedInside += 1
            }
        }
        #expect(changedInside > width * height / 4 * 9 / 10, "\(changedInside) pixels changed inside the face")
        #expect(overlaid[0, 511] == original[0, 511] && overlaid[511, 511] == original[511, 511])

        // The panel: four tiles per face under a row of titles.
        let panel = try RGBImage(contentsOf: guided)
        #expect(panel.width > 4 * 192 && panel.height > 192 && panel.height < 2 * 192, "\(panel.width)x\(panel.height)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        #expect(leftovers == ["guided.png", "heatmap.png"], "temporary files left: \(leftovers)")
    }

    @Test func chosenEmotionIsExplainedAndNamedInTheTable() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let output = scratch.path + "/sad.jpg"
        let result = try Self.explain([AnalyzeTests.sample, "--out", output, "--emotion", "SAD"])
        try #require(result.status == 0, "\(result)")
        #expect(result.standardOutput.contains("astronaut.jpg (512x512): 1 face, Grad-CAM at layer "), "\(result)")
        #expect(result.standardOutput.contains("explained: sad"), "\(result)")
        #expect(result.standardOutput.contains("heat maps: \(output)"), "\(result)")
        #expect(ImageFormat(sniffing: try ImageFile.bytes(atPath: output)) == .jpeg)

        let json = try Self.explain([AnalyzeTests.sample, "--out", output, "--emotion", "fear", "--layer", "7", "--json"])
        try #require(json.status == 0, "\(json)")
        let report = try Self.report(json)
        #expect((report["faces"] as? [[String: Any]])?.first?["explained"] as? String == "fear")
        #expect((report["layer"] as? String)?.hasPrefix("7 (") == true, "\(json)")
    }

    /// A crowd costs a backward pass and a panel row per face: `--max-faces` explains the largest and counts the rest.
    @Test func facesBeyondMaxFacesAreCountedNotExplained() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        // The astronaut's head at four sizes on a photo of coffee.
        let photo = AnalyzeTests.root + "/Tests/EmovereVisionTests/Fixtures/composite_gray.png"
        let all = try Self.report(Self.explain([photo, "--out", scratch.path + "/all.png", "--json"]))
        let found = try #require(all["faces"] as? [[String: Any]])
        try #require(found.count >= 3, "\(all)")
        #expect(all["skippedFaces"] as? Int == 0)
        let area = { (face: [String: Any]) in
            let box = face["box"] as? [String: Int]
            return (box?["width"] ?? 0) * (box?["height"] ?? 0)
        }
        let largest = found.map(area).sorted(by: >).prefix(2)

        let capped = try Self.explain([photo, "--out", scratch.path + "/two.png", "--max-faces", "2", "--json"])
        let report = try Self.report(capped)
        let kept = try #require(report["faces"] as? [[String: Any]])
        #expect(kept.count == 2 && report["skippedFaces"] as? Int == found.count - 2, "\(capped)")
        #expect(kept.map(area).sorted(by: >) == Array(largest))
        let table = try Self.explain([photo, "--out", scratch.path + "/two.png", "--max-faces", "2"])
        #expect(table.standardOutput.contains(": 2 faces (\(found.count - 2) smaller not explained: --max-faces)"), "\(table)")
        let refused = try Self.explain([photo, "--max-faces", "0"])
        #expect(refused.status != 0 && refused.standardError.contains("--max-faces must be 1-10000, received 0"), "\(refused)")
    }

    /// `explain` decodes on the photo path of `analyze` and the server: under `--max-decoded-pixels` the heat map is
    /// drawn on the reduced image while the report keeps the stored size and `analyze`'s box; `--max-pixels` refuses.
    @Test func imageLimitsAreAnalyzesOwn() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let output = scratch.path + "/reduced.png"
        let result = try Self.explain([AnalyzeTests.sample, "--out", output, "--max-decoded-pixels", "70000", "--json"])
        try #require(result.status == 0, "\(result)")
        let report = try Self.report(result)
        #expect(report["width"] as? Int == 512 && report["height"] as? Int == 512, "\(result)")
        let overlaid = try RGBImage(contentsOf: output)
        #expect(overlaid.width == 256 && overlaid.height == 256, "drawn at the reduced scale: \(overlaid.width)x\(overlaid.height)")
        let analyzed = try AnalyzeTests.analyze([AnalyzeTests.sample, "--json", "--max-decoded-pixels", "70000"])
        let analyzedFace = try #require((try AnalyzeTests.photos(analyzed).first?["faces"] as? [[String: Any]])?.first)
        let face = try #require((report["faces"] as? [[String: Any]])?.first, "\(result)")
        #expect(analyzedFace["box"] as? [String: Int] == face["box"] as? [String: Int])

        let tooLarge = try Self.explain([AnalyzeTests.sample, "--out", output, "--max-pixels", "1000"])
        #expect(tooLarge.status == 1 && tooLarge.standardError.contains("limit is 1000 pixels"), "\(tooLarge)")
        let invalid = try Self.explain([AnalyzeTests.sample, "--out", output, "--max-decoded-pixels", "0"])
        #expect(invalid.status != 0 && invalid.standardError.contains("--max-decoded-pixels must be in 1..."), "\(invalid)")
    }

    @Test func badRequestsGetClearMessages() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let output = scratch.path + "/out.png"

        let missing = try Self.explain([scratch.path + "/missing.jpg", "--out", output])
        #expect(missing.status != 0 && missing.standardError.contains("cannot read") && missing.standardError.contains("missing.jpg"),
                "\(missing)")

        let broken = scratch.path + "/broken.png"
        try Data("this is not a photo".utf8).write(to: URL(fileURLWithPath: broken))
        let unreadable = try Self.explain([broken, "--out", output])
        // Named once, as analyze names it (it was "cannot read X: X: ...").
        #expect(unreadable.status != 0 && unreadable.standardError.contains("Error: \(broken): unsupported image format")
                && unreadable.standardError.components(separatedBy: "broken.png").count == 2, "\(unreadable)")

        var pixels = [UInt8](repeating: 0, count: 160 * 120)
        for index in pixels.indices { pixels[index] = UInt8((index % 160) + (index / 160) / 2) }
        let faceless = scratch.path + "/gradient.png"
        try Data(try GrayImage(width: 160, height: 120, pixels: pixels).pngData()).write(to: URL(fileURLWithPath: faceless))
        let noFace = try Self.explain([faceless, "--out", output])
        #expect(noFace.status == 1 && noFace.standardError.contains("no face found in \(faceless)"), "\(noFace)")
        #expect(!FileManager.default.fileExists(atPath: output), "nothing is written without a face")
        // Nor are folders made for outputs never written, and the advice fits the detector.
        let nested = try Self.explain([faceless, "--out", scratch.path + "/left/out.png", "--guided",
                                       scratch.path + "/behind/panel.png", "--detector", "haar"])
        #expect(nested.status == 1 && nested.standardError.contains("--min-neighbors")
                && !nested.standardError.contains("--score-threshold"), "\(nested)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/left")
                && !FileManager.default.fileExists(atPath: scratch.path + "/behind"))

        let halves = try Self.explain([AnalyzeTests.sample, "--out", output, "--precision", "bfloat16"])
        #expect(halves.status != 0 && halves.standardError.contains("Unknown option '--precision'"), "\(halves)")

        let layer = try Self.explain([AnalyzeTests.sample, "--out", output, "--layer", "99"])
        #expect(layer.status != 0 && layer.standardError.contains("--layer: layer 99 does not exist"), "\(layer)")

        let emotion = try Self.explain([AnalyzeTests.sample, "--out", output, "--emotion", "bored"])
        #expect(emotion.status != 0 && emotion.standardError.contains("bored"), "\(emotion)")

        // A photo wider than a JPEG may be is refused before its explanation is computed (it failed after).
        let wide = scratch.path + "/wide.png"
        try Data(try GrayImage(width: 66_000, height: 8, pixels: [UInt8](repeating: 90, count: 66_000 * 8)).pngData())
            .write(to: URL(fileURLWithPath: wide))
        let tooWide = try Self.explain([wide, "--out", scratch.path + "/wide.jpg", "--detector", "none"])
        #expect(tooWide.status == 1 && tooWide.standardError.contains("over JPEG's limit of 65500 pixels a side"),
                "\(tooWide)")

        let format = try Self.explain([AnalyzeTests.sample, "--out", scratch.path + "/out.gif"])
        #expect(format.status != 0 && format.standardError.contains("expected an image file name ending in .png, .jpg or .jpeg"), "\(format)")

        let overwrite = try Self.explain([AnalyzeTests.sample, "--guided", AnalyzeTests.sample])
        #expect(overwrite.status != 0 && overwrite.standardError.contains("is an input (the photo or a model)"), "\(overwrite)")
    }
}
