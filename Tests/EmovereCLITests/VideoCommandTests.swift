import Emovere
import EmovereNN
import EmovereTestSupport
import EmovereVideo
import Foundation
import Testing

/// `emovere video` and `emovere live` end to end on a short video the tests make with ffmpeg from the bundled
/// sample photo: 3 s at 15 frames/s, 320x240, the face sliding right by 20 px/s.
@Suite(.serialized,
       .enabled(if: CommandRunner.executable != nil, "the emovere executable is not built"),
       .enabled(if: FFmpegTools.isAvailable, "ffmpeg is not installed (apt-get install ffmpeg; scripts/test.sh installs it)"))
struct VideoCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let cascade = repository.appendingPathComponent("Tests/EmovereVisionTests/Fixtures/haarcascade_frontalface_default.xml").path
    static let frameCount = 45

    /// A scratch folder with the test video and a model.
    struct Fixture {
        let folder: String
        let video: String
        let model: String

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-video-cli-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            video = folder + "/moving.mp4"
            try Self.ffmpeg(["-f", "lavfi", "-i", "color=c=0x506070:s=320x240:r=15:d=3",
                             "-i", repository.appendingPathComponent("samples/astronaut.jpg").path,
                             "-filter_complex", "[1:v]scale=300:300[photo];[0:v][photo]overlay=x='-40+20*t':y=-20,format=yuv420p",
                             "-frames:v", String(frameCount), "-c:v", "libx264", "-preset", "ultrafast", video])
            // The bundled model when it is there; otherwise an untrained tiny model (the tests check tracking and
            // files, not which emotion wins).
            let bundled = repository.appendingPathComponent("models/default.safetensors").path
            if FileManager.default.fileExists(atPath: bundled) {
                model = bundled
            } else {
                model = folder + "/tiny.safetensors"
                let architecture = Architecture(name: "tiny-cnn", inputSize: 48)
                let network = try Model(architecture: architecture, seed: 1)
                let card = ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: 48),
                                     parameterCount: network.parameterCount)
                try ModelFile.save(network, card: card, to: model)
            }
        }

        func remove() {
            do { try FileManager.default.removeItem(atPath: folder) } catch { Issue.record("cleanup: \(error)") }
        }

        /// The options every run needs.
        /// Flip keeps these debug-build runs quick; ten-crop is covered by AnalyzeTests and EmotionRecognizerTests.
        var recognition: [String] { ["--model", model, "--tta", "flip"] }

        /// Files in the folder other than the inputs.
        func outputs() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: folder)
                .filter { !["moving.mp4", "tiny.safetensors", "tiny.card.json"].contains($0) }.sorted()
        }

        static func ffmpeg(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try FFmpegTools.locate().ffmpeg)
            process.arguments = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments
            try process.run()
            process.waitUntilExit()
            try #require(process.terminationStatus == 0, "ffmpeg \(arguments.joined(separator: " ")) failed")
        }
    }

    @Test func videoWritesTimelinePlotAndAnnotatedVideo() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let csv = fixture.folder + "/timeline.csv", svg = fixture.folder + "/timeline.svg", out = fixture.folder + "/annotated.mp4"
        // What a run killed while writing this video left (its process gone) is removed.
        let abandoned = fixture.folder + "/.annotated.mp4.partial-999999999-ab.mp4"
        try #require(FileManager.default.createFile(atPath: abandoned, contents: Data(count: 1000)))
        // Another output's (another machine's, in a shared folder) is not this run's to remove.
        let others = fixture.folder + "/.other.mp4.partial-999999999-cd.mp4"
        try #require(FileManager.default.createFile(atPath: others, contents: Data(count: 10)))
        defer { try? FileManager.default.removeItem(atPath: others) }
        let result = try CommandRunner.run(["video", fixture.video, "--out", out, "--csv", csv, "--plot", svg] + fixture.recognition)
        try #require(result.status == 0, "\(result)")
        #expect(result.standardError.contains("removed \(abandoned), a file left half written"), "\(result)")
        #expect(FileManager.default.fileExists(atPath: others))
        try FileManager.default.removeItem(atPath: others)
        #expect(result.standardOutput.contains("\(Self.frameCount) frames"), "\(result)")
        #expect(result.standardOutput.contains("frames/s"), "\(result)")
        #expect(result.standardError.contains("frame/s"), "progress bar with a rate expected:\n\(result)")
        #expect(try fixture.outputs() == ["annotated.mp4", "timeline.csv", "timeline.svg"], "no partial files may remain")

        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.first == "time,frame,track,x,y,width,height,angry,disgust,fear,happy,sad,surprise,neutral,emotion")
        let rows = lines.dropFirst().map { $0.split(separator: ",").map(String.init) }
        #expect(rows.allSatisfy { $0.count == 15 }, "\(lines.prefix(3))")
        let frames = Set(rows.compactMap { Int($0[1]) })
        #expect(frames.count >= Self.frameCount - 4, "a face on most frames expected, found on \(frames.count): \(lines.count - 1) rows")
        #expect(rows.count <= Self.frameCount + 2, "one face per frame expected, found \(rows.count) rows")
        // One stable track follows the face.
        let tracks = Dictionary(grouping: rows, by: { $0[2] }).mapValues(\.count)
        let main = try #require(tracks.max { $0.value < $1.value })
        #expect(main.key == "1" && main.value >= Self.frameCount - 4, "tracks: \(tracks)")
        for row in rows {
            let probabilities = row[7..<14].compactMap(Double.init)
            #expect(probabilities.count == 7 && abs(probabilities.reduce(0, +) - 1) < 0.01, "\(row)")
            #expect(Double(row[0]).map { abs($0 - Double(Int(row[1]) ?? -1) / 15) < 0.001 } == true, "time of \(row)")
        }
        // The face moves right by about 20 px/s: 40-60 px over the clip.
        let firstX = try #require(rows.first.flatMap { Int($0[3]) }), lastX = try #require(rows.last.flatMap { Int($0[3]) })
        #expect(lastX - firstX > 30, "box x went from \(firstX) to \(lastX)")

        let plot = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(plot.hasPrefix("<svg") && plot.contains("track 1") && plot.contains("<polyline"))

        let info = try VideoInfo.probe(.file(out), tools: FFmpegTools.locate())
        #expect(info.width == 320 && info.height == 240 && info.frameCount == Self.frameCount && info.codec == "h264")
        var decoded = 0
        let reader = try VideoReader(source: .file(out))
        while try reader.nextFrame() != nil { decoded += 1 }
        #expect(decoded == Self.frameCount)
    }

    @Test func jsonFollowsFacesBetweenDetections() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let result = try CommandRunner.run(["video", fixture.video, "--json", "--every", "3", "--smoothing", "0.5"] + fixture.recognition)
        try #require(result.status == 0, "\(result)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let video = try #require(document["video"] as? [String: Any])
        #expect(video["width"] as? Int == 320 && video["frameCount"] as? Int == Self.frameCount)
        let frames = try #require(document["frames"] as? [[String: Any]])
        #expect(frames.count == Self.frameCount)
        #expect(frames.map { $0["frame"] as? Int } == (0..<Self.frameCount).map { $0 })
        let faces = frames.flatMap { ($0["faces"] as? [[String: Any]]) ?? [] }
        #expect(faces.count >= Self.frameCount - 4)
        #expect(faces.contains { $0["detected"] as? Bool == false }, "frames between detections follow the faces")
        #expect(Set(faces.compactMap { $0["track"] as? Int }).count == 1, "one stable track expected")
        let tracks = try #require(document["tracks"] as? [[String: Any]])
        #expect(tracks.count == 1 && tracks.first?["dominantEmotion"] is String)
        let summary = try #require(document["summary"] as? [String: Any])
        #expect(summary["frames"] as? Int == Self.frameCount && (summary["framesPerSecond"] as? Double ?? 0) > 0)
    }

    /// A full disk behind standard output is a failure to write (exit 1), not a reader that went away (141).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "no /dev/full here"))
    func fullStandardOutputIsAWriteFailure() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let binary = try #require(CommandRunner.executable).path
        let command = ([binary, "video", fixture.video, "--json"] + fixture.recognition)
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ") + " > /dev/full"
        let result = try CommandRunner.run(["-c", command], executable: "/bin/sh")
        #expect(result.status == 1 && result.standardError.contains("cannot write standard output: No space left on device"),
                "\(result)")
    }

    @Test func missingInputIsNamedAndNothingIsWritten() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let missing = fixture.folder + "/absent.mp4"
        let result = try CommandRunner.run(["video", missing, "--csv", fixture.folder + "/t.csv",
                                            "--out", fixture.folder + "/a.mp4"] + fixture.recognition)
        #expect(result.status != 0)
        #expect(result.standardError.contains(missing) && result.standardError.contains("no such file"), "\(result)")
        #expect(try fixture.outputs().isEmpty)
    }

    /// A video on a web server is read as ffmpeg downloads it: the same timeline as the file's, the URL's password
    /// hidden in what is printed and logged, the outputs in a folder named by the last part of its path. A URL that
    /// answers 404 is an error naming it; a stream's scheme is refused with the advice to use `live`.
    @Test func videoReadsAURL() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let web = fixture.folder + "/web.mp4"  // as served on the web: the index first, readable without seeking
        try Fixture.ffmpeg(["-i", fixture.video, "-c", "copy", "-movflags", "+faststart", web])
        let server = try LoopbackStreamServer(body: Array(try Data(contentsOf: URL(fileURLWithPath: web))))
        defer { server.stop() }
        let options = ["--detector", "none"] + fixture.recognition
        let local = fixture.folder + "/local.csv"
        let fromFile = try CommandRunner.run(["video", web, "--csv", local] + options)
        try #require(fromFile.status == 0, "\(fromFile)")

        let url = "http://viewer:secret@127.0.0.1:\(server.port)/clips/talk.mp4?token=1"
        let folder = fixture.folder + "/outputs"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let log = fixture.folder + "/log.jsonl"
        let fromURL = try CommandRunner.run(["video", url, web, "--csv", folder, "--output", log] + options)
        try #require(fromURL.status == 0, "\(fromURL)")
        #expect(try String(contentsOfFile: folder + "/talk.csv", encoding: .utf8)
                == String(contentsOfFile: local, encoding: .utf8))
        let hidden = "http://viewer:***@127.0.0.1:\(server.port)/clips/talk.mp4?token=1"
        #expect(fromURL.standardOutput.contains(hidden + ": \(Self.frameCount) frames"), "\(fromURL)")
        let logged = try String(contentsOfFile: log, encoding: .utf8)
        #expect(logged.contains("viewer:***@127.0.0.1"), "\(logged)")
        #expect(!(fromURL.standardOutput + fromURL.standardError + logged).contains("secret"))

        // A URL's video that broke off (a failed download) is analysed again by --resume; the file's line stays.
        var lines = logged.split(separator: "\n").map(String.init)
        let urlLine = try #require(lines.firstIndex { $0.contains("talk.mp4") })
        lines[urlLine] = String(lines[urlLine].dropLast()) + #","error":"the download broke off"}"#
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        let resumed = try CommandRunner.run(["video", url, web, "--csv", folder, "--output", log, "--resume"] + options)
        try #require(resumed.status == 0, "\(resumed)")
        let relogged = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(relogged.count == 3 && relogged[2].contains("talk.mp4") && !relogged[2].contains("error"), "\(relogged)")

        // A scheme in capitals is one (ffmpeg knows protocols in lower case only).
        let played = try CommandRunner.run(["live", "--input", "HTTP" + url.dropFirst(4), "--max-frames", "2"] + options)
        #expect(played.status == 0 && played.standardOutput.split(separator: "\n").count == 2, "\(played)")
        #expect(!(played.standardOutput + played.standardError).contains("secret"), "\(played)")

        let missing = try LoopbackStreamServer(firstAnswers: ["404 Not Found"])
        defer { missing.stop() }
        let gone = "http://127.0.0.1:\(missing.port)/gone.mp4"
        let notFound = try CommandRunner.run(["video", gone] + options)
        #expect(notFound.status == 1 && notFound.standardError.contains(gone)
                && notFound.standardError.contains("404"), "\(notFound)")
        // Outputs named alike are refused before any download, the URLs' passwords hidden; hosts keep their dots.
        for (inputs, name) in [(["http://u:secret@127.0.0.1:1/a/web.mp4", web], "web"),
                               (["http://u:secret@", "http://u:secret@?x"], "video"),
                               (["http://10.0.0.5:8080/", "https://u:secret@10.0.0.5/"], "10.0.0.5")] {
            let clash = try CommandRunner.run(["video"] + inputs + ["--csv", folder] + options)
            #expect(clash.status == 64 && clash.standardError.contains("would write the same \(name).* outputs")
                    && clash.standardError.contains("u:***@")
                    && !clash.standardError.contains("secret"), "\(clash)")
        }
        let stream = try CommandRunner.run(["video", "rtsp://camera/stream"] + options)
        #expect(stream.status == 64 && stream.standardError.contains("found the scheme 'rtsp'")
                && stream.standardError.contains("live --stream"), "\(stream)")
    }

    @Test func textFileNamedMP4IsRejected() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let text = fixture.folder + "/notes.mp4"
        try Data("not a video\n".utf8).write(to: URL(fileURLWithPath: text))
        let result = try CommandRunner.run(["video", text, "--csv", fixture.folder + "/t.csv"] + fixture.recognition)
        #expect(result.status != 0)
        #expect(result.standardError.contains("notes.mp4") && result.standardError.contains("not a readable video"), "\(result)")
        #expect(try fixture.outputs() == ["notes.mp4"])
    }

    /// An index-first copy of the test video cut at two thirds: readable at first, broken later.
    static func brokenVideo(in fixture: Fixture) throws -> String {
        let indexed = fixture.folder + "/indexed.mp4"
        try Fixture.ffmpeg(["-i", fixture.video, "-c", "copy", "-movflags", "+faststart", indexed])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: indexed))
        let broken = fixture.folder + "/broken.mp4"
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: broken))
        try FileManager.default.removeItem(atPath: indexed)
        return broken
    }

    /// A video that breaks off part-way keeps what was analysed: the annotated video, the CSV and the plot up to the
    /// last complete frame, a summary that says where it stopped and gives the duration analysed, and exit status 1.
    @Test func brokenVideoKeepsWhatWasAnalysed() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let broken = try Self.brokenVideo(in: fixture)
        let result = try CommandRunner.run(["video", broken, "--out", fixture.folder + "/a.mp4", "--csv", fixture.folder + "/t.csv",
                                            "--plot", fixture.folder + "/t.svg"] + fixture.recognition)
        #expect(result.status == 1, "\(result)")
        #expect(result.standardOutput.contains("stopped after frame") && result.standardOutput.contains("broke off"),
                "\(result)")
        #expect(try fixture.outputs() == ["a.mp4", "broken.mp4", "t.csv", "t.svg"])
        let rows = try String(contentsOfFile: fixture.folder + "/t.csv", encoding: .utf8).split(separator: "\n").count
        #expect(rows > 1 && rows - 1 < Self.frameCount, "\(rows - 1) frame rows")
        // The duration is the frames read at 15 frames/s, not the 3 s the damaged header promises.
        let frames = rows - 1
        #expect(result.standardOutput.contains("broken.mp4: \(frames) frames, "
                                               + String(format: "%.2f s", Double(frames) / 15)), "\(result)")
    }

    /// A Matroska file with a sound track, cut in half: no frame count, and the container's duration could be the
    /// sound's, but the video stream's own DURATION tag tells that it broke off.
    @Test func truncatedMatroskaWithSoundBrokeOff() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let whole = fixture.folder + "/whole.mkv"
        try Fixture.ffmpeg(["-i", fixture.video, "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-map", "0:v", "-map",
                            "1:a", "-c:v", "copy", "-c:a", "pcm_s16le", "-t", "3", whole])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        let cut = fixture.folder + "/cut.mkv"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        let result = try CommandRunner.run(["video", cut] + fixture.recognition)
        #expect(result.status == 1 && result.standardOutput.contains("broke off"), "\(result)")
        let intact = try CommandRunner.run(["video", whole] + fixture.recognition)
        #expect(intact.status == 0 && intact.standardOutput.contains("whole.mkv: \(Self.frameCount) frames"), "\(intact)")
    }

    /// `live` on an input that breaks off keeps its recording of what was analysed and fails.
    @Test func liveKeepsItsRecordingWhenTheInputBreaksOff() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let broken = try Self.brokenVideo(in: fixture)
        let out = fixture.folder + "/live.mp4"
        let result = try CommandRunner.run(["live", "--input", broken, "--out", out] + fixture.recognition)
        #expect(result.status == 1 && result.standardError.contains("wrote \(out)"), "\(result)")
        let info = try VideoInfo.probe(.file(out), tools: FFmpegTools.locate())
        #expect((info.frameCount ?? 0) > 0 && (info.frameCount ?? 0) < Self.frameCount)
        #expect(try fixture.outputs() == ["broken.mp4", "live.mp4"])
    }

    /// A closed terminal (SIGHUP) stops `video` as Ctrl-C does, and a second signal right after the first exits at
    /// once: either way no output and no hidden partial file is left, and the encoder does not outlive the command.
    @Test(arguments: [[SIGHUP], [SIGINT, SIGINT]])
    func signalsLeaveNoPartialFiles(signals: [Int32]) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let process = try CommandRunner.start(["video", fixture.video, "--out", fixture.folder + "/a.mp4",
                                               "--csv", fixture.folder + "/t.csv"] + fixture.recognition)
        // Wait (without a tight limit) until the outputs' temporary files exist, then signal.
        var waited = 0
        while try !fixture.outputs().contains(where: { $0.hasPrefix(".a.mp4.partial") }) && process.isRunning && waited < 6000 {
            usleep(50_000)
            waited += 1
        }
        try #require(process.isRunning, "the command ended before it could be signalled")
        for number in signals { kill(process.processIdentifier, number) }
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let left = try fixture.outputs()
        #expect(left.isEmpty, "\(left)")
    }

    /// Ctrl-C while the probe of a URL waits on a server that never answers ends the command with status 130 at
    /// once, not after the download's 30 s timeout.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/pgrep"), "no pgrep here"))
    func ctrlCStopsTheProbeOfASilentURL() throws {
        let server = try LoopbackStreamServer(accepts: false)
        defer { server.stop() }
        let process = try CommandRunner.start(["video", "http://127.0.0.1:\(server.port)/silent.mp4", "--detector",
                                               "none", "--model", OutputPathTests.model])
        // Wait (without a tight limit) until ffprobe runs: the command is then in the probe.
        var waited = 0
        while process.isRunning, waited < 6000, try !Self.hasChild(process.processIdentifier, named: "ffprobe") {
            usleep(50_000)
            waited += 1
        }
        try #require(process.isRunning, "the command ended before it could be signalled")
        let signalled = ContinuousClock.now
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        #expect(ContinuousClock.now - signalled < .seconds(20))
    }

    /// Whether process `parent` has a child process named `name` (pgrep).
    static func hasChild(_ parent: Int32, named name: String) throws -> Bool {
        let pgrep = Process()
        pgrep.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
        pgrep.arguments = ["-P", String(parent), "-x", name]
        pgrep.standardOutput = FileHandle.nullDevice
        try pgrep.run()
        pgrep.waitUntilExit()
        return pgrep.terminationStatus == 0
    }

    /// Several videos: outputs go to folders under each video's name, `--output` gets one line per video (a summary
    /// or an error), and `--resume` skips the videos done and tries the failed ones again.
    @Test func manyVideosWriteOneLineEachAndResume() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let second = fixture.folder + "/second.mp4"
        try FileManager.default.copyItem(atPath: fixture.video, toPath: second)
        let notes = fixture.folder + "/notes.mp4"
        try Data("not a video\n".utf8).write(to: URL(fileURLWithPath: notes))
        let csvFolder = fixture.folder + "/timelines"
        try FileManager.default.createDirectory(atPath: csvFolder, withIntermediateDirectories: true)
        let log = fixture.folder + "/videos.jsonl"
        let arguments = ["video", fixture.video, notes, second, "--csv", csvFolder, "--output", log, "--every", "3"]
            + fixture.recognition
        let first = try CommandRunner.run(arguments)
        #expect(first.status == 1, "one video is not readable: \(first)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: csvFolder).sorted() == ["moving.csv", "second.csv"])
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        try #require(lines.count == 3, "\(lines)")
        let records = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(Set(records.compactMap { $0["path"] as? String }) == [fixture.video, notes, second])
        let failed = try #require(records.first { ($0["path"] as? String) == notes })
        #expect((failed["error"] as? String)?.contains("notes.mp4") == true && failed["summary"] == nil)
        let done = try #require(records.first { ($0["path"] as? String) == second })
        #expect((done["summary"] as? [String: Any])?["frames"] as? Int == Self.frameCount)

        // The videos done are skipped; the one that failed is tried again (and fails again, with a line of its own).
        let again = try CommandRunner.run(arguments + ["--resume"])
        #expect(again.status == 1 && again.standardError.contains("notes.mp4")
                && again.standardError.contains("2 videos already in \(log) skipped (--resume)"), "\(again)")
        let resumed = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(resumed.count == 4 && resumed[3].contains(#""path":"\#(notes)""#) && resumed[3].contains(#""error""#),
                "\(resumed)")
        // Each line names what analysed it, and a resume with other settings is refused, the file untouched.
        #expect(resumed.allSatisfy { $0.contains(#""model":""#) && $0.contains(#""tta":"flip""#) }, "\(resumed)")
        let otherViews = try CommandRunner.run(arguments + ["--resume", "--tta", "none"])
        #expect(otherViews.status == 1 && otherViews.standardError.contains("written with --tta flip, this run uses none"),
                "\(otherViews)")
        #expect(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n") == resumed)
    }

    /// Lines written before video lines named their model (2026-12-06) are continued, with a warning.
    @Test func resumeContinuesLinesWithoutAModel() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let log = fixture.folder + "/videos.jsonl"
        let old = #"{"path":"\#(fixture.video)","summary":{"frames":1}}"# + "\n"
        try Data(old.utf8).write(to: URL(fileURLWithPath: log))
        let second = fixture.folder + "/second.mp4"
        try FileManager.default.copyItem(atPath: fixture.video, toPath: second)
        let resumed = try CommandRunner.run(["video", fixture.video, second, "--output", log, "--resume"] + fixture.recognition)
        #expect(resumed.status == 0 && resumed.standardError.contains("warning: 1 line of \(log) records no model"),
                "\(resumed)")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines[1].contains("second.mp4"), "\(lines)")
    }

    /// Outputs that would overwrite the input, or each other, are refused before anything runs.
    @Test func outputOverTheInputIsRefused() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let before = try Data(contentsOf: URL(fileURLWithPath: fixture.video))
        let same = try CommandRunner.run(["video", fixture.video, "--out", fixture.folder + "/./moving.mp4"] + fixture.recognition)
        #expect(same.status == 64 && same.standardError.contains("is an input (the video or a model)"), "\(same)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.video)) == before)
        let twice = try CommandRunner.run(["video", fixture.video, "--csv", fixture.folder + "/t.csv",
                                           "--plot", fixture.folder + "/t.csv"] + fixture.recognition)
        #expect(twice.status == 64 && twice.standardError.contains("both name"), "\(twice)")
        #expect(try fixture.outputs().isEmpty)
        // With several videos, one's annotated copy in the folder is another input (a rerun over `*.mp4`).
        let copy = fixture.folder + "/moving.annotated.mp4"
        try FileManager.default.copyItem(atPath: fixture.video, toPath: copy)
        let rerun = try CommandRunner.run(["video", fixture.video, copy, "--out", fixture.folder] + fixture.recognition)
        #expect(rerun.status == 64 && rerun.standardError.contains("--out \(copy) is one of the inputs"), "\(rerun)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == before)
        let logOverCSV = try CommandRunner.run(["video", fixture.video, copy, "--csv", fixture.folder, "--output",
                                                fixture.folder + "/moving.csv"] + fixture.recognition)
        #expect(logOverCSV.status == 64 && logOverCSV.standardError.contains("both name"), "\(logOverCSV)")
        // A device or pipe is not replaced by a file (as root, `--csv /dev/null` was): refused before anything runs.
        let pipe = fixture.folder + "/pipe.csv"
        try #require(mkfifo(pipe, 0o644) == 0)
        let toPipe = try CommandRunner.run(["video", fixture.video, "--csv", pipe] + fixture.recognition)
        #expect(toPipe.status == 64 && toPipe.standardError.contains("--csv \(pipe): it is a named pipe, not a regular file"),
                "\(toPipe)")
        // Nor is the file behind a descriptor (`>> log` appending through /dev/stdout would be replaced whole).
        let appended = fixture.folder + "/appended.log"
        try Data("earlier lines\n".utf8).write(to: URL(fileURLWithPath: appended))
        let binary = try #require(CommandRunner.executable).path
        let command = ([binary, "video", fixture.video, "--csv", "/dev/stdout"] + fixture.recognition)
            .map { "'" + $0 + "'" }.joined(separator: " ") + " >> '\(appended)'"
        let toStandardOutput = try CommandRunner.run(["-c", command], executable: "/bin/sh")
        #expect(toStandardOutput.status == 64 && toStandardOutput.standardError.contains("names an open file descriptor"),
                "\(toStandardOutput)")
        #expect(try String(contentsOfFile: appended, encoding: .utf8) == "earlier lines\n")
        try FileManager.default.removeItem(atPath: appended)
        var status = stat()
        #expect(lstat(pipe, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO)
        // A pipe given as the video is refused at once (the probe waited for a writer, and a second Ctrl-C left it).
        let fromPipe = try CommandRunner.run(["video", pipe] + fixture.recognition)
        #expect(fromPipe.status == 1 && fromPipe.standardError.contains("expected a video file, found a pipe"), "\(fromPipe)")
        // A folder given as the video is called one.
        let folder = try CommandRunner.run(["video", fixture.folder] + fixture.recognition)
        #expect(folder.status == 1 && folder.standardError.contains("\(fixture.folder): expected a video file, found a folder"),
                "\(folder)")
    }

    @Test func liveReadsAFileInRealTime() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let out = fixture.folder + "/live.mp4"
        let result = try CommandRunner.run(["live", "--input", fixture.video, "--realtime", "--out", out] + fixture.recognition)
        try #require(result.status == 0, "\(result)")
        let lines = result.standardOutput.split(separator: "\n")
        #expect(!lines.isEmpty && lines.count <= Self.frameCount)
        var previous = -1
        for line in lines {
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            let frame = try #require(record["frame"] as? Int)
            #expect(frame > previous, "frames in order")
            previous = frame
            #expect(record["latencyMilliseconds"] is Double && record["faces"] is [Any])
        }
        #expect(result.standardError.contains("frames/s") && result.standardError.contains("latency"), "\(result)")
        let info = try VideoInfo.probe(.file(out), tools: FFmpegTools.locate())
        #expect(info.width == 320 && (info.frameCount ?? 0) > 0)
        // Paced at 15 frames/s, the 3 s clip takes about 3 s.
        #expect(try fixture.outputs() == ["live.mp4"])
    }

    @Test func liveMaxFramesAndArgumentChecks() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let limited = try CommandRunner.run(["live", "--input", fixture.video, "--max-frames", "5"] + fixture.recognition)
        try #require(limited.status == 0, "\(limited)")
        #expect(limited.standardOutput.split(separator: "\n").count == 5, "\(limited)")

        let realtimeCamera = try CommandRunner.run(["live", "--realtime"] + fixture.recognition)
        #expect(realtimeCamera.status != 0 && realtimeCamera.standardError.contains("--realtime"), "\(realtimeCamera)")
        let badSize = try CommandRunner.run(["live", "--size", "big"] + fixture.recognition)
        #expect(badSize.status != 0 && badSize.standardError.contains("WIDTHxHEIGHT"), "\(badSize)")
        let badEvery = try CommandRunner.run(["video", fixture.video, "--every", "0"] + fixture.recognition)
        #expect(badEvery.status != 0 && badEvery.standardError.contains("--every"), "\(badEvery)")
        let missingCamera = try CommandRunner.run(["live", "--camera", fixture.folder + "/video9"] + fixture.recognition)
        #expect(missingCamera.status != 0 && missingCamera.standardError.contains("video9"), "\(missingCamera)")
        // A device path that does not exist is told before ffprobe runs, with the cameras there are.
        let noDevice = try CommandRunner.run(["live", "--camera", "/dev/video-emovere-missing"] + fixture.recognition)
        #expect(noDevice.status != 0 && noDevice.standardError.contains("no camera at /dev/video-emovere-missing ("),
                "\(noDevice)")
    }
}
