import ArgumentParser
import Dispatch
import Emovere
import EmovereCore
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
            Decodes IN with ffmpeg (any format it reads, from a file or an http, https or ftp URL), detects faces (every frame, or every N with --every), \
            follows them with stable track numbers and classifies each face on every frame. Writes an annotated \
            H.264 video (--out: .mp4, .mov, .m4v, .mkv, .avi or .ts; the first audio track as AAC), a CSV timeline with one row per \
            frame per face (--csv), an SVG plot of each track's probabilities (--plot) and prints a summary (or JSON \
            with --json). Needs ffmpeg (apt-get install ffmpeg). Outputs are written to hidden temporary files and \
            renamed when complete; on a failure before the first frame or Ctrl-C they are removed, and a video that \
            breaks off part-way keeps what was analysed (exit status 1). With several videos, --out, --csv and --plot name folders \
            (<name>.annotated.mp4, <name>.csv, <name>.svg), --output appends one JSON summary line per video as \
            each finishes, and --resume skips the videos already there.
            """)

    @Argument(help: "The video files (paths, or http, https or ftp URLs).")
    var inputs: [String]

    @Option(help: "Write the annotated video here (H.264 in .mp4, .mov, .m4v, .mkv, .avi or .ts; a folder with several videos).")
    var out: String?

    @Option(help: "Write the per-frame timeline here (CSV; a folder with several videos).")
    var csv: String?

    @Flag(help: "Print JSON (video, frames with faces, tracks, summary) instead of the text summary (one video).")
    var json = false

    @Option(help: "Write the emotion-over-time plot here (SVG; a folder with several videos).")
    var plot: String?

    @Option(help: "Write one JSON line per video (path, summary or error) to this file as each finishes (an existing file only with --resume).")
    var output: String?

    @Flag(help: "With --output: skip the videos whose line the file already holds without an error (continue a stopped run; failed ones are tried again).")
    var resume = false

    @OptionGroup var recognition: RecognitionOptions

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("expected at least one video file") }
        if resume && output == nil { throw ValidationError("--resume needs --output") }
        for input in inputs {
            guard let scheme = VideoSource.scheme(of: input), !VideoSource.remoteFileSchemes.contains(scheme) else { continue }
            throw ValidationError("\(VideoSource.stream(url: input).name): expected a video file or an "
                + "\(VideoSource.remoteFileSchemes.joined(separator: ", ")) URL, found the scheme '\(scheme)'"
                + (VideoSource.streamSchemes.contains(scheme) ? " (a live stream: emovere live --stream URL)" : ""))
        }
        let outputs = [("--out", out), ("--csv", csv), ("--plot", plot)].compactMap { name, path in path.map { (name, $0) } }
        guard inputs.count > 1 else {
            try OutputPaths.checkDistinct([("--out", out), ("--csv", csv), ("--plot", plot), ("--output", output)],
                                          inputs: inputs + recognition.detection.inputFiles,
                                          inputName: "an input (the video or a model)")
            if let out { try OutputPaths.checkVideoFile(out, option: "--out") }
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
                throw ValidationError("\(VideoSource.recording(other).name) and \(VideoSource.recording(input).name) "
                    + "would write the same \(name).* outputs: rename one")
            }
            seen[name] = input
        }
        // Each video's outputs in the folders (a rerun of `video *.mp4 --out .` would overwrite talk.annotated.mp4).
        let perVideo = [("--output", output)] + inputs.flatMap { input in
            let targets = targets(for: input)
            return [("--out", targets.out), ("--csv", targets.csv), ("--plot", targets.plot)]
        }
        try OutputPaths.checkDistinct(perVideo, inputs: inputs + recognition.detection.inputFiles,
                                      inputName: "one of the inputs (a video or a model)")
    }

    /// The outputs of video `input`: the options as given for one video, else its files in their folders
    /// (`<name>.annotated.mp4`, `<name>.csv`, `<name>.svg`).
    func targets(for input: String) -> (out: String?, csv: String?, plot: String?) {
        let name = Self.baseName(input)
        func target(_ option: String?, _ suffix: String) -> String? {
            option.map { inputs.count == 1 ? $0 : ($0 as NSString).appendingPathComponent(name + suffix) }
        }
        return (target(out, ".annotated.mp4"), target(csv, ".csv"), target(plot, ".svg"))
    }

    /// The file name of `input` without its extension, which names a video's outputs in the output folders.
    static func baseName(_ input: String) -> String {
        let (name, isHost) = lastPart(of: input)
        return isHost ? name : (name as NSString).deletingPathExtension
    }

    /// The last part of `input`'s path: a file's name, a URL's (without its query), or a URL's host when its path
    /// is empty (`RemoteAddress.lastPart`).
    static func lastPart(of input: String) -> (name: String, isHost: Bool) {
        RemoteAddress.lastPart(of: input, fallback: "video")
    }

    /// The result line `--output` appends for one video, with what analysed it (checked by `--resume`).
    struct VideoLine: Encodable {
        var path: String
        var summary: RunSummary.Record?
        var error: String?
        var provenance: ResultLog.Provenance

        func encode(to encoder: any Encoder) throws {
            try provenance.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(path, forKey: .path)
            try container.encodeIfPresent(summary, forKey: .summary)
            try container.encodeIfPresent(error, forKey: .error)
        }

        private enum CodingKeys: String, CodingKey { case path, summary, error }
    }

    func run() throws {
        let interruption = Interruption.install()
        // A reader of the JSON that goes away (`| head`) is an error the run handles (outputs removed), not a
        // SIGPIPE that kills it and leaves hidden partial files behind.
        BrokenPipeSignal.ignore()
        let tools = try FFmpegTools.locate()  // once: without ffmpeg, one error rather than one line per video
        let outputs = inputs.count > 1 || output != nil
            ? inputs.flatMap { input in let files = targets(for: input); return [files.out, files.csv, files.plot] }
            : [out, csv, plot]
        try OutputPaths.removeAbandonedTemporaryFiles(of: outputs.compactMap { $0 })
        let recognizer = try recognition.makeRecognizer()
        guard inputs.count > 1 || output != nil else {
            let summary = try analyse(inputs[0], out: out, csv: csv, plot: plot, recognizer: recognizer, tools: tools,
                                      interruption: interruption)
            try Self.stopIfInterrupted(interruption)
            if summary.brokenOff != nil { throw ExitCode(1) }
            return
        }
        let provenance = ResultLog.Provenance(recognizer, model: try recognition.detection.modelPath(), command: .video)
        let log = try output.map { try ResultLog(path: $0, resume: resume, provenance: provenance) }
        var failures = 0
        var skipped = 0
        for input in inputs {
            let name = VideoSource.recording(input).name  // a URL's password hidden
            if log?.isFinished(name) == true {
                skipped += 1
                continue
            }
            let targets = targets(for: input)
            do {
                let summary = try analyse(input, out: targets.out, csv: targets.csv, plot: targets.plot,
                                          recognizer: recognizer, tools: tools, interruption: interruption)
                if summary.brokenOff != nil { failures += 1 }
                try log?.append(VideoLine(path: name, summary: summary.record, error: summary.brokenOff,
                                          provenance: provenance))
            } catch let exit as ExitCode {
                throw exit  // Ctrl-C: stop here; --resume continues with this video
            } catch {
                failures += 1
                StandardError.write("error: \(error)\n")
                try log?.append(VideoLine(path: name, summary: nil, error: "\(error)", provenance: provenance))
            }
        }
        try log?.finish()
        if let output, skipped > 0 {
            StandardError.write("\(skipped.counting("video")) already in \(output) skipped (--resume)\n")
        }
        try Self.stopIfInterrupted(interruption)
        if failures > 0 { throw ExitCode(1) }
    }

    /// Exits 130 when a signal came while the last video's outputs were finished: they are whole and kept (a signal
    /// before a video is analysed stops the run there, in `analyse`).
    private static func stopIfInterrupted(_ interruption: Interruption) throws {
        guard interruption.isRequested else { return }
        StandardError.write("\ninterrupted: the outputs were finished first and are kept\n")
        throw ExitCode(130)
    }

    /// Analyses the video `input` (a path or URL), writes the outputs asked for and prints its summary.
    /// - Returns: the summary (`brokenOff` set when the video ended early: the outputs hold what was analysed).
    func analyse(_ input: String, out: String?, csv: String?, plot: String?, recognizer: EmotionRecognizer,
                 tools: FFmpegTools, interruption: Interruption) throws -> RunSummary {
        let source = VideoSource.recording(input)
        // Ctrl-C while the probe waits on a slow server stops it at once.
        let cancellation = VideoCancellation()
        let prober = interruption.whenRequested { cancellation.cancel() }
        defer { interruption.release(prober) }
        let reader: VideoReader
        do {
            reader = try VideoReader(source: source, tools: tools, cancellation: cancellation)
        } catch {
            if interruption.isRequested {
                StandardError.write("\ninterrupted\n")
                throw ExitCode(130)
            }
            throw error
        }
        let info = reader.info
        let tracker = try recognition.makeTracker(recognizer)

        var outputs: [PendingFile] = []
        let writer = try out.map { path in
            try VideoWriter(path: path, width: info.width, height: info.height, frameRate: info.frameRateText,
                            audioSource: info.hasAudio ? source : nil, tools: tools)
        }
        let csvFile = try csv.map { path in try PendingFile(path: path) }
        if let csvFile { outputs.append(csvFile) }
        let plotFile = try plot.map { path in try PendingFile(path: path) }
        if let plotFile { outputs.append(plotFile) }
        func abandonOutputs() {
            writer?.cancel()
            for output in outputs { output.discard() }
        }
        let forcedExit = interruption.removeOnForcedExit(
            files: [writer?.temporaryPath].compactMap { $0 } + outputs.map(\.temporaryPath),
            processes: [writer?.encoderProcessIdentifier].compactMap { $0 })
        defer { interruption.release(forcedExit) }
        // An input that stalled (a network file, a FIFO) would hold the read: the first signal ends it.
        let decoder = UnsafeSendable(reader)  // `interrupt` only kills a running process, from any thread
        let stopper = interruption.whenRequested { decoder.value.interrupt() }
        defer { interruption.release(stopper) }

        let json = json ? JSONLines() : nil
        // A stream that breaks off after some frames (a truncated or damaged file) keeps what was analysed, and the
        // command exits 1 (`run`).
        var brokenOff: VideoError?
        var committed = false  // the outputs are in place (only the summary was left to write)
        do {
            try csvFile?.write(TimelineCSV.header + "\n")
            try json?.write("{\"video\":" + JSONLines.encode(VideoDescription(path: source.name, info: info)) + ",\n\"frames\":[\n")
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
                    if interruption.isRequested { throw VideoCommandError.interrupted }  // its decoder was killed
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
            if interruption.isRequested { throw VideoCommandError.interrupted }
            progress.finish()
            let seconds = stopwatch.elapsedSeconds
            // A stream that broke off lasted as long as the frames read from it.
            let duration = brokenOff == nil ? info.duration ?? Double(index) / info.frameRate
                : Double(index) / info.frameRate
            if let plotFile {
                try plotFile.write(TimelinePlot.svg(timeline: timeline, summaries: tracker.summaries, duration: duration,
                                                    title: Self.lastPart(of: input).name))
            }
            try writer?.finish()
            // The recording is in place, so the other outputs follow it: a signal that came while it was finished
            // (its index moved to the front of a long file) stops a run of several videos before the next one
            // (`analyse` checks first), not this one, whose outputs are whole. Its encoder is reaped: a forced exit
            // must not kill the process that takes its number next.
            for output in outputs { try output.commit() }
            committed = true
            interruption.release(forcedExit)
            if let writer, let problem = writer.soundProblem {
                StandardError.write("warning: the sound of \(source.name) broke off; the rest of it is silent in "
                                    + "\(writer.path): \(problem)\n")
            }
            let summary = RunSummary(frames: index, duration: duration, frameRate: info.frameRate, faces: faceCount,
                                     framesWithFaces: framesWithFaces, seconds: seconds, summaries: tracker.summaries,
                                     brokenOff: brokenOff.map { "\($0)" })
            let shownName = source.name.escapedForOneLine  // the summary's first line
            if let json {
                try json.write("\n],\n\"tracks\":" + JSONLines.encode(summary.trackRecords) + ",\n\"summary\":"
                               + JSONLines.encode(summary.record) + "}\n")
                StandardError.write(summary.text(input: shownName) + "\n")
            } else {
                print(summary.text(input: shownName))
            }
            var written = [out, csv, plot].compactMap { $0 }
            if !written.isEmpty {
                written = written.map { "  wrote \($0.escapedForOneLine)" }
                (json == nil ? print(written.joined(separator: "\n")) : StandardError.write(written.joined(separator: "\n") + "\n"))
            }
            return summary
        } catch {
            abandonOutputs()
            if case VideoCommandError.interrupted = error {
                StandardError.write("\ninterrupted: partial outputs removed\n")
                throw ExitCode(130)
            }
            if case VideoCommandError.standardOutputClosed = error {
                StandardError.write("\n\(error): \(committed ? "outputs kept" : "partial outputs removed")\n")
                throw ExitCode(141)  // as a process ended by SIGPIPE reports itself
            }
            throw error
        }
    }
}
