import ArgumentParser
import Dispatch
import Emovere
import EmovereData
import EmovereNN
import EmovereReport
import EmovereVideo
import EmovereVision
import Foundation

struct Video: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Track faces through a video and recognise their emotions frame by frame.",
        discussion: """
            Decodes IN with ffmpeg (any format it reads), detects faces (every frame, or every N with --every), \
            follows them with stable track numbers and classifies each face on every frame. Writes an annotated \
            H.264 MP4 (--out, audio copied), a CSV timeline with one row per frame per face (--csv), an SVG plot \
            of each track's probabilities (--plot) and prints a summary (or JSON with --json). Needs ffmpeg \
            (apt-get install ffmpeg). Outputs are written to hidden temporary files and renamed when complete; \
            on an error or Ctrl-C they are removed. With several videos, --out, --csv and --plot name folders \
            (<name>.annotated.mp4, <name>.csv, <name>.svg), --output appends one JSON summary line per video as \
            each finishes, and --resume skips the videos already there.
            """)

    @Argument(help: "The video files.")
    var inputs: [String]

    @Option(help: "Write the annotated video here (H.264 MP4; a folder with several videos).")
    var out: String?

    @Option(help: "Write the per-frame timeline here (CSV; a folder with several videos).")
    var csv: String?

    @Flag(help: "Print JSON (video, frames with faces, tracks, summary) instead of the text summary (one video).")
    var json = false

    @Option(help: "Write the emotion-over-time plot here (SVG; a folder with several videos).")
    var plot: String?

    @Option(help: "Append one JSON line per video (path, summary or error) to this file as each finishes.")
    var output: String?

    @Flag(help: "With --output: skip the videos whose line the file already holds (continue a stopped run).")
    var resume = false

    @OptionGroup var recognition: RecognitionOptions

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("expected at least one video file") }
        if resume && output == nil { throw ValidationError("--resume needs --output") }
        let outputs = [("--out", out), ("--csv", csv), ("--plot", plot)].compactMap { name, path in path.map { (name, $0) } }
        guard inputs.count > 1 else {
            let input = AnnotatedPhoto.canonical(inputs[0])
            for (index, (name, path)) in outputs.enumerated() {
                let target = AnnotatedPhoto.canonical(path)
                if target == input {
                    throw ValidationError("\(name) \(path) is the input video: choose another output path")
                }
                if let other = outputs[..<index].first(where: { AnnotatedPhoto.canonical($0.1) == target }) {
                    throw ValidationError("\(name) and \(other.0) both name \(path): give each output its own path")
                }
            }
            return
        }
        if json { throw ValidationError("--json prints one video; with \(inputs.count) videos use --output") }
        for (name, folder) in outputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("\(name) \(folder): with several videos, expected an existing folder")
            }
        }
        var seen: [String: String] = [:]
        for input in inputs {
            let name = Self.baseName(input)
            if let other = seen[name], !outputs.isEmpty {
                throw ValidationError("\(other) and \(input) would write the same \(name).* outputs: rename one")
            }
            seen[name] = input
        }
    }

    /// The file name of `path` without its extension, which names a video's outputs in the output folders.
    static func baseName(_ path: String) -> String {
        ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// The result line `--output` appends for one video.
    struct VideoLine: Encodable {
        var path: String
        var summary: RunSummary.Record?
        var error: String?
    }

    func run() throws {
        let interruption = Interruption.install()
        guard inputs.count > 1 || output != nil else {
            let summary = try analyse(inputs[0], out: out, csv: csv, plot: plot, interruption: interruption)
            if summary.brokenOff != nil { throw ExitCode(1) }
            return
        }
        let log = try output.map { try ResultLog(path: $0, resume: resume) }
        let single = inputs.count == 1
        var failures = 0
        for input in inputs where !(log?.finished.contains(input) ?? false) {
            let name = Self.baseName(input)
            func target(_ option: String?, _ suffix: String) -> String? {
                option.map { single ? $0 : ($0 as NSString).appendingPathComponent(name + suffix) }
            }
            do {
                let summary = try analyse(input, out: target(out, ".annotated.mp4"), csv: target(csv, ".csv"),
                                          plot: target(plot, ".svg"), interruption: interruption)
                if summary.brokenOff != nil { failures += 1 }
                try log?.append(VideoLine(path: input, summary: summary.record, error: summary.brokenOff))
            } catch let exit as ExitCode {
                throw exit  // Ctrl-C: stop here; --resume continues with this video
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                try log?.append(VideoLine(path: input, summary: nil, error: "\(error)"))
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// Analyses the video `input`, writes the outputs asked for and prints its summary.
    /// - Returns: the summary (`brokenOff` set when the video ended early: the outputs hold what was analysed).
    func analyse(_ input: String, out: String?, csv: String?, plot: String?,
                 interruption: Interruption) throws -> RunSummary {
        let tools = try FFmpegTools.locate()
        let reader = try VideoReader(source: .file(input), tools: tools)
        let info = reader.info
        let tracker = try recognition.makeTracker()

        var outputs: [PendingFile] = []
        let writer = try out.map { path in
            try VideoWriter(path: path, width: info.width, height: info.height, frameRate: info.frameRateText,
                            audioSource: info.hasAudio ? input : nil, tools: tools)
        }
        let csvFile = try csv.map { path in try PendingFile(path: path) }
        if let csvFile { outputs.append(csvFile) }
        let plotFile = try plot.map { path in try PendingFile(path: path) }
        if let plotFile { outputs.append(plotFile) }
        func abandonOutputs() {
            writer?.cancel()
            for output in outputs { output.discard() }
        }

        let json = json ? JSONLines() : nil
        // A stream that breaks off after some frames (a truncated or damaged file) keeps what was analysed, and the
        // command exits 1 (`run`).
        var brokenOff: VideoError?
        do {
            try csvFile?.write(TimelineCSV.header + "\n")
            try json?.write("{\"video\":" + JSONLines.encode(VideoDescription(path: input, info: info)) + ",\n\"frames\":[\n")
            var timeline = EmotionTimeline(frameRate: info.frameRate)
            let progress = ProgressBar(total: info.frameCount ?? 0, label: "video", unit: "frame")
            let stopwatch = Stopwatch()
            var frame = RGBImage(width: 0, height: 0, pixels: [])
            var faceCount = 0
            var framesWithFaces = 0
            var index = 0
            let annotator = AnnotationRenderer()
            while true {
                do {
                    guard try reader.read(into: &frame) else { break }
                } catch {
                    guard index > 0 else { throw error }
                    brokenOff = error
                    break
                }
                if interruption.isRequested { throw VideoCommandError.interrupted }
                let time = Double(index) / info.frameRate
                let faces = tracker.process(frame, index: index)
                faceCount += faces.count
                if !faces.isEmpty { framesWithFaces += 1 }
                for face in faces { timeline.add(track: face.track, time: time, probabilities: face.probabilities) }
                if let csvFile { try csvFile.write(TimelineCSV.rows(frame: index, time: time, faces: faces)) }
                try json?.write((index > 0 ? ",\n" : "") + JSONLines.encode(FrameRecord(frame: index, time: time, faces: faces)))
                if let writer {
                    annotator.annotate(&frame, trackedFaces: faces)
                    try writer.write(frame)
                }
                index += 1
                progress.update(completed: index)
            }
            progress.finish()
            let seconds = stopwatch.elapsedSeconds
            let duration = info.duration ?? Double(index) / info.frameRate
            if let plotFile {
                try plotFile.write(TimelinePlot.svg(timeline: timeline, summaries: tracker.summaries, duration: duration,
                                                    title: (input as NSString).lastPathComponent))
            }
            try writer?.finish()
            for output in outputs { try output.commit() }
            let summary = RunSummary(frames: index, duration: duration, frameRate: info.frameRate, faces: faceCount,
                                     framesWithFaces: framesWithFaces, seconds: seconds, summaries: tracker.summaries,
                                     brokenOff: brokenOff.map { "\($0)" })
            if let json {
                try json.write("\n],\n\"tracks\":" + JSONLines.encode(summary.trackRecords) + ",\n\"summary\":"
                               + JSONLines.encode(summary.record) + "}\n")
                FileHandle.standardError.write(Data((summary.text(input: input) + "\n").utf8))
            } else {
                print(summary.text(input: input))
            }
            var written = [out, csv, plot].compactMap { $0 }
            if !written.isEmpty {
                written = written.map { "  wrote \($0)" }
                (json == nil ? print(written.joined(separator: "\n")) : FileHandle.standardError.write(Data((written.joined(separator: "\n") + "\n").utf8)))
            }
            return summary
        } catch {
            abandonOutputs()
            if case VideoCommandError.interrupted = error {
                FileHandle.standardError.write(Data("\ninterrupted: partial outputs removed\n".utf8))
                throw ExitCode(130)
            }
            throw error
        }
    }
}

/// Face detection, model and tracking options shared by `video` and `live`.
struct RecognitionOptions: ParsableArguments {
    @Option(help: "Run the full-frame face detector every N frames (1: every frame); faces are followed in between.")
    var every = 1

    @Option(help: "Smoothing weight of the newest frame in each track's moving average, in (0, 1]; 1 is off.")
    var smoothing: Float = 1

    @OptionGroup var detection: DetectorOptions

    func validate() throws {
        guard every >= 1 else { throw ValidationError("--every: expected 1 or more, found \(every)") }
        guard smoothing > 0 && smoothing <= 1 else {
            throw ValidationError("--smoothing: expected a weight in (0, 1] (1 is off), found \(smoothing)")
        }
    }

    /// The recognizer and tracker these options describe.
    func makeTracker() throws -> VideoEmotionTracker {
        let recognizer = try detection.makeRecognizers(count: 1)[0]
        return try VideoEmotionTracker(recognizer: recognizer,
                                       settings: .init(detectionInterval: every, smoothing: smoothing))
    }
}

enum VideoCommandError: Error {
    case interrupted
}

/// Ctrl-C (SIGINT) and SIGTERM as a flag the frame loop checks, so outputs can be finished or removed cleanly.
final class Interruption: @unchecked Sendable {
    private let flag = Locked(false)
    private var sources: [DispatchSourceSignal] = []

    var isRequested: Bool { flag.withValue { $0 } }

    static func install() -> Interruption {
        let interruption = Interruption()
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [interruption] in
                let again = interruption.flag.withValue { value -> Bool in
                    defer { value = true }
                    return value
                }
                // A second Ctrl-C stops at once.
                if again { exit(130) }
            }
            source.resume()
            interruption.sources.append(source)
        }
        return interruption
    }
}

/// A text output written to a hidden temporary file beside its destination and renamed there by `commit()`.
final class PendingFile {
    let path: String
    let temporaryPath: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var closed = false

    init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("\(path): the folder \(folder) does not exist")
        }
        self.path = path
        temporaryPath = try AtomicFile.temporaryPath(for: path, tag: "partial")
        guard FileManager.default.createFile(atPath: temporaryPath, contents: nil) else {
            throw ValidationError("\(path): cannot create \(temporaryPath)")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporaryPath))
    }

    deinit {
        if !closed { discard() }
    }

    /// Appends `text` (buffered).
    func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered, syncs and closes the file and renames it to `path` (`AtomicFile.commit`).
    func commit() throws {
        try flush()
        try handle.synchronize()
        try handle.close()
        closed = true
        do {
            try AtomicFile.commit(temporaryPath: temporaryPath, to: path)
        } catch {
            discard()
            throw error
        }
    }

    /// Closes and removes the temporary file.
    func discard() {
        if !closed {
            closed = true
            do { try handle.close() } catch {
                FileHandle.standardError.write(Data("warning: closing \(temporaryPath): \(error)\n".utf8))
            }
        }
        guard FileManager.default.fileExists(atPath: temporaryPath) else { return }
        do { try FileManager.default.removeItem(atPath: temporaryPath) } catch {
            FileHandle.standardError.write(Data("warning: could not remove \(temporaryPath): \(error)\n".utf8))
        }
    }
}

/// Streams a JSON document to standard output piece by piece, so memory does not grow with the video.
final class JSONLines {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    func write(_ text: String) throws {
        try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
    }
}

/// The CSV timeline: one row per frame per face.
enum TimelineCSV {
    static let header = (["time", "frame", "track", "x", "y", "width", "height"] + Emotion.allCases.map(\.name) + ["emotion"])
        .joined(separator: ",")

    static func rows(frame: Int, time: Double, faces: [TrackedFaceEmotion]) -> String {
        var text = ""
        for face in faces {
            text += String(format: "%.3f", time) + ",\(frame),\(face.track),\(face.box.x),\(face.box.y),\(face.box.width),\(face.box.height)"
            for probability in face.probabilities { text += String(format: ",%.4f", probability) }
            text += ",\(face.emotion.name)\n"
        }
        return text
    }
}

/// The `video` object of the JSON output.
struct VideoDescription: Encodable {
    var path: String
    var width: Int
    var height: Int
    var frameRate: Double
    var frameCount: Int?
    var duration: Double?
    var hasAudio: Bool

    init(path: String, info: VideoInfo) {
        self.path = path
        width = info.width
        height = info.height
        frameRate = info.frameRate
        frameCount = info.frameCount
        duration = info.duration
        hasAudio = info.hasAudio
    }
}

/// One frame of the JSON output (and one line of `live`).
struct FrameRecord: Encodable {
    var frame: Int
    var time: Double
    var faces: [FaceRecord]
    var latencyMilliseconds: Double?

    init(frame: Int, time: Double, faces: [TrackedFaceEmotion], latencyMilliseconds: Double? = nil) {
        self.frame = frame
        self.time = (time * 1000).rounded() / 1000
        self.latencyMilliseconds = latencyMilliseconds.map { ($0 * 10).rounded() / 10 }
        self.faces = faces.map { FaceRecord($0) }
    }
}

/// The end-of-run summary: text and JSON.
struct RunSummary {
    struct TrackRecord: Encodable {
        var track: Int
        var firstTime: Double
        var lastTime: Double
        var frames: Int
        var dominantEmotion: String
        var dominantShare: Double
        var meanProbabilities: [String: Double]
    }

    struct Record: Encodable {
        var frames: Int
        var duration: Double
        var faces: Int
        var framesWithFaces: Int
        var tracks: Int
        var seconds: Double
        var framesPerSecond: Double
        /// Why the video stopped before its end (a truncated or damaged file), if it did.
        var brokenOff: String?
    }

    var frames: Int
    var duration: Double
    var frameRate: Double
    var faces: Int
    var framesWithFaces: Int
    var seconds: Double
    var summaries: [Int: TrackSummary]
    var brokenOff: String?

    var framesPerSecond: Double { seconds > 0 ? Double(frames) / seconds : 0 }

    var trackRecords: [TrackRecord] {
        summaries.values.sorted { $0.track < $1.track }.map { summary in
            TrackRecord(track: summary.track, firstTime: Double(summary.firstFrame) / frameRate,
                        lastTime: Double(summary.lastFrame) / frameRate, frames: summary.frames,
                        dominantEmotion: summary.dominantEmotion.name, dominantShare: summary.dominantShare,
                        meanProbabilities: Emotion.byName(summary.meanProbabilities))
        }
    }

    var record: Record {
        Record(frames: frames, duration: duration, faces: faces, framesWithFaces: framesWithFaces,
               tracks: summaries.count, seconds: seconds, framesPerSecond: framesPerSecond, brokenOff: brokenOff)
    }

    func text(input: String) -> String {
        var lines = [String(format: "%@: %d frames, %.2f s; %d face%@ in %d frame%@, %d track%@", input, frames, duration,
                            faces, faces == 1 ? "" : "s", framesWithFaces, framesWithFaces == 1 ? "" : "s",
                            summaries.count, summaries.count == 1 ? "" : "s")]
        for track in trackRecords {
            lines.append(String(format: "  track %d: %.2f-%.2f s, %d frames, dominant %@ (mean %.2f, top in %.0f%% of frames)",
                                track.track, track.firstTime, track.lastTime, track.frames, track.dominantEmotion,
                                track.meanProbabilities[track.dominantEmotion] ?? 0, track.dominantShare * 100))
        }
        lines.append(String(format: "processed %d frames in %.2f s: %.1f frames/s", frames, seconds, framesPerSecond))
        if let brokenOff { lines.append("stopped after frame \(frames - 1), before the end of the video: \(brokenOff)") }
        return lines.joined(separator: "\n")
    }
}
