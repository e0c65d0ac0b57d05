import EmovereTestSupport
import Foundation
import Testing

/// `--detector yunet|haar|none` on every command that finds faces: the JSON names the detector, YuNet adds
/// landmarks, `none` takes the whole image as the face.
@Suite(.serialized, .enabled(if: CommandRunner.executable != nil, "the emovere executable is not built"))
struct DetectorOptionTests {
    @Test(arguments: ["yunet", "haar", "none"])
    func analyzeNamesTheDetectorAndFindsTheSampleFace(detector: String) throws {
        let result = try AnalyzeTests.analyze([AnalyzeTests.sample, "--json", "--tta", "none", "--detector", detector])
        try #require(result.status == 0, "\(result)")
        let photo = try #require(try AnalyzeTests.photos(result).first)
        let described = try #require(photo["detector"] as? [String: Any], "\(result)")
        #expect(described["kind"] as? String == detector)
        let faces = try #require(photo["faces"] as? [[String: Any]], "\(result)")
        try #require(faces.count == 1, "\(result)")
        let box = try #require(faces[0]["box"] as? [String: Int])
        switch detector {
        case "yunet":
            #expect(described["file"] as? String == "face_detection_yunet_2026may.onnx")
            #expect(AnalyzeTests.number(described["scoreThreshold"]) != nil)
            let landmarks = try #require(faces[0]["landmarks"] as? [String: [String: Double]], "\(result)")
            #expect(landmarks.count == 5)
            let (rightEye, leftEye) = (try #require(landmarks["rightEye"]), try #require(landmarks["leftEye"]))
            // The astronaut's right eye is on the image's left, both inside the box's upper half.
            #expect(rightEye["x"]! < leftEye["x"]!)
            #expect(Double(box["y"]!) < rightEye["y"]! && rightEye["y"]! < Double(box["y"]! + box["height"]! / 2))
            #expect((AnalyzeTests.number(faces[0]["detectionScore"]) ?? 0) > 0.8)
        case "haar":
            #expect(faces[0]["landmarks"] == nil && faces[0]["detectionScore"] == nil)
        default:
            #expect(box == ["x": 0, "y": 0, "width": 512, "height": 512])
            #expect(described["file"] == nil)
        }
    }

    @Test func unknownDetectorIsRejectedWithTheChoices() throws {
        let result = try AnalyzeTests.analyze([AnalyzeTests.sample, "--detector", "mtcnn"])
        #expect(result.status != 0 && result.standardError.contains("mtcnn"), "\(result)")
        // Each out-of-range value is refused with the option it came from.
        for (option, value, detector) in [("--score-threshold", "1.5", "yunet"), ("--detection-size", "8", "yunet"),
                                          ("--scale-factor", "1", "haar"), ("--min-neighbors", "-1", "haar")] {
            let refused = try AnalyzeTests.analyze([AnalyzeTests.sample, "--detector", detector, "\(option)=\(value)"])
            #expect(refused.status == 64 && refused.standardError.contains("Error: \(option): "), "\(refused)")
        }
    }

    /// An option of one detector given with another chosen is refused, not ignored: the user would believe it
    /// took effect. `evaluate` takes them only with `--through-detector`, which is its `--detector`.
    @Test func optionsOfAnotherDetectorAreRefused() throws {
        let cases: [(arguments: [String], message: String)] = [
            (["--min-neighbors", "3"], "--min-neighbors applies only with --detector haar; yunet is chosen"),
            (["--detector", "haar", "--cascade", AnalyzeTests.cascade, "--score-threshold", "0.5"],
             "--score-threshold applies only with --detector yunet; haar is chosen"),
            (["--detector", "none", "--detection-size", "320"],
             "--detection-size applies only with --detector yunet; none is chosen"),
        ]
        for (arguments, message) in cases {
            let refused = try AnalyzeTests.analyze([AnalyzeTests.sample] + arguments)
            #expect(refused.status == 64 && refused.standardError.contains(message), "\(refused)")
        }
        let applied = try AnalyzeTests.analyze([AnalyzeTests.sample, "--tta", "none", "--detector", "haar",
                                                "--min-neighbors", "3", "--min-face", "40"])
        #expect(applied.status == 0 && applied.standardOutput.contains("1 face"), "\(applied)")

        let model = try AnalyzeTests.model.get()
        let evaluateCases: [(arguments: [String], message: String)] = [
            (["--min-face", "20"], "--min-face applies only with --through-detector haar; no detector is chosen"),
            (["--through-detector", "yunet", "--cascade", AnalyzeTests.cascade],
             "--cascade applies only with --through-detector haar; yunet is chosen"),
            (["--detector", "haar"], "Unknown option '--detector'"),
        ]
        for (arguments, message) in evaluateCases {
            let refused = try CommandRunner.run(["evaluate", "--model", model, "--data", "absent"] + arguments)
            #expect(refused.status == 64 && refused.standardError.contains(message), "\(refused)")
        }
    }

    @Test func yunetFileThatIsNotAnOnnxModelIsNamed() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let path = scratch.path + "/fake.onnx"
        try Data("not a protobuf at all".utf8).write(to: URL(fileURLWithPath: path))
        let result = try AnalyzeTests.analyze([AnalyzeTests.sample, "--yunet-model", path])
        #expect(result.status != 0 && result.standardError.contains(path), "\(result)")
    }

    /// The bundled detector (found in `./models/`) is checked against its digest: one flipped byte in a weight still
    /// imports and finds wrong faces. A file named with `--yunet-model` is used as it is.
    @Test func aDamagedBundledDetectorIsRefused() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.path + "/models", withIntermediateDirectories: true)
        let bundled = VideoCommandTests.repository.appendingPathComponent("models/face_detection_yunet_2026may.onnx").path
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: bundled)))
        bytes[bytes.count / 2] ^= 0x01
        let damaged = scratch.path + "/models/face_detection_yunet_2026may.onnx"
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        let arguments = ["analyze", AnalyzeTests.sample, "--model", OutputPathTests.model]
        let refused = try CommandRunner.run(arguments, in: scratch.path)
        #expect(refused.status == 1 && refused.standardError.contains("models/face_detection_yunet_2026may.onnx: SHA-256")
                && refused.standardError.contains("damaged or was replaced"), "\(refused)")
        let named = try CommandRunner.run(arguments + ["--yunet-model", damaged], in: scratch.path)
        #expect(named.status == 0, "\(named)")
    }

    @Test(arguments: ["yunet", "none"])
    func explainUsesTheChosenDetector(detector: String) throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let result = try ExplainTests.explain([AnalyzeTests.sample, "--out", scratch.path + "/heat.png", "--json",
                                               "--detector", detector])
        try #require(result.status == 0, "\(result)")
        let report = try ExplainTests.report(result)
        #expect((report["detector"] as? [String: Any])?["kind"] as? String == detector)
        let faces = try #require(report["faces"] as? [[String: Any]], "\(result)")
        #expect(faces.count == 1)
        #expect((faces.first?["landmarks"] != nil) == (detector == "yunet"))
    }

    /// Video follows YuNet's faces between detections; live takes the option too (Haar here, so each kind runs in
    /// a debug build only where it adds coverage).
    @Test func videoAndLiveUseTheChosenDetector() throws {
        let fixture = try VideoCommandTests.Fixture()
        defer { fixture.remove() }
        let detector = "yunet"
        let video = try CommandRunner.run(["video", fixture.video, "--json", "--every", "2", "--detector", detector]
                                              + fixture.recognition)
        try #require(video.status == 0, "\(video)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(video.standardOutput.utf8)) as? [String: Any])
        let frames = try #require(document["frames"] as? [[String: Any]])
        let faces = frames.flatMap { ($0["faces"] as? [[String: Any]]) ?? [] }
        #expect(faces.count >= VideoCommandTests.frameCount - 4, "\(video)")
        #expect(faces.allSatisfy { ($0["landmarks"] != nil) == (detector == "yunet") })
        #expect(faces.contains { $0["detected"] as? Bool == false }, "frames between detections follow the faces")

        let live = try CommandRunner.run(["live", "--input", fixture.video, "--max-frames", "3", "--detector", "haar",
                                          "--cascade", VideoCommandTests.cascade] + fixture.recognition)
        try #require(live.status == 0, "\(live)")
        let lines = live.standardOutput.split(separator: "\n")
        #expect(lines.count == 3, "\(live)")
        #expect(lines.allSatisfy { !$0.contains("landmarks") }, "Haar gives no landmarks")

        // The same video as a network stream (MPEG-TS over HTTP, as a camera or a relay serves it). Each run waits up
        // to 60 s for a frame (the default 10 s includes starting ffprobe and ffmpeg, which a busy 2-core machine
        // running the suite in parallel can delay past it: a stall then reads as one more reconnection).
        let transport = fixture.folder + "/moving.ts"
        try VideoCommandTests.Fixture.ffmpeg(["-i", fixture.video, "-c", "copy", "-f", "mpegts", transport])
        let clip = Array(try Data(contentsOf: URL(fileURLWithPath: transport)))
        let server = try LoopbackStreamServer(body: clip)
        defer { server.stop() }
        let streamed = try CommandRunner.run(["live", "--stream", "http://127.0.0.1:\(server.port)/moving.ts",
                                              "--stream-timeout", "60", "--max-frames", "2", "--detector", "haar",
                                              "--cascade", VideoCommandTests.cascade] + fixture.recognition)
        try #require(streamed.status == 0, "\(streamed)")
        #expect(streamed.standardError.contains("live: http://127.0.0.1:\(server.port)/moving.ts 320x240, frames as they come"),
                "\(streamed)")
        #expect(streamed.standardOutput.split(separator: "\n").count == 2, "\(streamed)")

        // With --reconnect the stream's end opens it again: the run goes on past one showing of the clip (45 frames),
        // and the frames' times keep growing across the reconnections.
        let reconnected = try CommandRunner.run(["live", "--stream", "http://127.0.0.1:\(server.port)/moving.ts",
                                                 "--stream-timeout", "60", "--reconnect", "--max-frames", "50", "--detector", "none"]
                                                + fixture.recognition)
        try #require(reconnected.status == 0, "\(reconnected)")
        #expect(reconnected.standardError.contains("moving.ts: the stream ended\nlive: opening http://127.0.0.1:\(server.port)/moving.ts again in 1 s")
                && reconnected.standardError.contains("the stream was opened again"), "\(reconnected)")
        let records = reconnected.standardOutput.split(separator: "\n")
        let times = records.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["time"] as? Double
        }
        #expect(records.count == 50 && times.count == 50, "\(reconnected)")
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 } && (times.last ?? 0) > 1, "\(times)")

        // A stream down at start (a camera still starting answers 503) fails without --reconnect and is tried again
        // with it, after 1 s, then 2 s, until it opens; a wrong path (404) fails at once, --reconnect or not.
        let unavailable = ["503 Service Unavailable", "503 Service Unavailable"]
        let starting = try LoopbackStreamServer(body: clip, firstAnswers: unavailable)
        defer { starting.stop() }
        let refused = try CommandRunner.run(["live", "--stream", "http://127.0.0.1:\(starting.port)/moving.ts",
                                             "--stream-timeout", "60", "--max-frames", "2", "--detector", "none"] + fixture.recognition)
        #expect(refused.status == 1 && refused.standardError.contains("Server Error"), "\(refused)")
        let restarting = try LoopbackStreamServer(body: clip, firstAnswers: unavailable)
        defer { restarting.stop() }
        let url = "http://127.0.0.1:\(restarting.port)/moving.ts"
        let retried = try CommandRunner.run(["live", "--stream", url, "--stream-timeout", "60", "--reconnect", "--max-frames", "2",
                                             "--detector", "none"] + fixture.recognition)
        try #require(retried.status == 0, "\(retried)")
        #expect(retried.standardError.contains("live: opening \(url) again in 1 s")
                && retried.standardError.contains("live: opening \(url) again in 2 s")
                && !retried.standardError.contains("again in 4 s")
                && !retried.standardError.contains("the stream was opened again"), "\(retried)")
        #expect(retried.standardOutput.split(separator: "\n").count == 2, "\(retried)")
        let missing = try LoopbackStreamServer(body: clip, firstAnswers: ["404 Not Found"])
        defer { missing.stop() }
        let wrongPath = try CommandRunner.run(["live", "--stream", "http://127.0.0.1:\(missing.port)/moved.ts",
                                               "--stream-timeout", "60", "--reconnect", "--max-frames", "2", "--detector", "none"]
                                              + fixture.recognition)
        #expect(wrongPath.status == 1 && wrongPath.standardError.contains("404")
                && !wrongPath.standardError.contains("again in"), "\(wrongPath)")
    }

    /// Ctrl-C while `live --reconnect` waits for a stream that stays down ends the run with status 130.
    @Test func ctrlCWhileAStreamIsDownStopsTheRetries() throws {
        let server = try LoopbackStreamServer(firstAnswers: Array(repeating: "503 Service Unavailable", count: 1000))
        defer { server.stop() }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-live-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let url = "http://127.0.0.1:\(server.port)/down.ts"
        let process = try CommandRunner.start(["live", "--stream", url, "--reconnect", "--detector", "none",
                                               "--model", OutputPathTests.model], errorLog: log)
        // Waits (without a tight limit) for the first retry's notice: the run is then in its retry loop.
        var waited = 0
        while process.isRunning, waited < 6000,
              !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("again in") {
            usleep(50_000)
            waited += 1
        }
        try #require(process.isRunning, "live ended before it could be interrupted")
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let messages = try String(contentsOfFile: log, encoding: .utf8)
        #expect(process.terminationStatus == 130, "\(messages)")
        #expect(messages.contains("live: stopped before \(url) opened"), "\(messages)")
    }
}
