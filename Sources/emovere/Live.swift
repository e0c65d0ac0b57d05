import ArgumentParser
import Dispatch
import Emovere
import EmovereCore
import EmovereReport
import EmovereVideo
import EmovereVision
import Foundation

struct Live: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recognise emotions live from a camera (V4L2 on Linux, AVFoundation on macOS), a network stream (an IP camera's RTSP) or a file played at its real pace.",
        discussion: """
            Prints one JSON line per processed frame on standard output (frame, time, latency, faces with track, \
            box, emotion and probabilities) and a status line with frames/s and latency on standard error. \
            With a camera, a stream or --realtime, frames that arrive while the previous one is still being processed are \
            skipped (counted as dropped), so the results stay current. A stream that gives no answer or no frame for \
            --stream-timeout seconds ends the run with an error (exit 1, the recording kept), or with --reconnect is \
            opened again, also when it is down at start. Stop with Ctrl-C; --out is then finished and kept.
            """)

    @Option(help: "Camera: a V4L2 device on Linux (default /dev/video0), an AVFoundation device index or name on macOS (default 0); used when --input is not given.")
    var camera: String?

    @Option(help: "Read this video file (a path, or an http, https or ftp URL) instead of a camera.")
    var input: String?

    @Option(help: ArgumentHelp("Read this network stream instead of a camera: an IP camera's rtsp://user:password@host/path (over TCP), or http(s), rtmp(s), srt, udp or tcp.", valueName: "url"))
    var stream: String?

    @Option(help: "Seconds a --stream may take to answer, and to send each next frame, before the run fails (or, with --reconnect, opens it again; default 10).")
    var streamTimeout: Double?

    @Flag(help: "When the --stream is down at start, breaks off, stalls or ends, open it again (after 1 s, doubling to 30 s while it stays down) instead of ending the run; stop with Ctrl-C or --max-frames.")
    var reconnect = false

    @Flag(help: "Deliver --input frames at the file's frame rate, as a camera would.")
    var realtime = false

    @Option(help: "Camera frame size, e.g. 640x480 (default: the camera's).")
    var size: String?

    @Option(help: "Camera frame rate (default: the camera's on Linux, 30 on macOS).")
    var fps: Double?

    @Option(help: "Write the annotated stream here (H.264 in .mp4, .mov, .m4v, .mkv, .avi or .ts).")
    var out: String?

    @Option(help: "Stop after this many processed frames (0: until the input ends or Ctrl-C).")
    var maxFrames = 0

    @OptionGroup var recognition: RecognitionOptions

    func validate() throws {
        let sources = [("--camera", camera), ("--input", input), ("--stream", stream)].filter { $0.1 != nil }.map(\.0)
        if sources.count > 1 { throw ValidationError("use one of --camera, --input and --stream, not \(sources.joined(separator: " and "))") }
        if realtime && input == nil { throw ValidationError("--realtime applies to --input files; a camera or stream is always live") }
        if let stream, let problem = VideoSource.problem(withStreamURL: stream) {
            throw ValidationError("--stream \(VideoSource.stream(url: stream).name): \(problem)")
        }
        if let streamTimeout, !(streamTimeout > 0 && streamTimeout <= 3600) {
            throw ValidationError("--stream-timeout: expected seconds above 0 and at most 3600, found \(streamTimeout)")
        }
        if stream == nil && streamTimeout != nil { throw ValidationError("--stream-timeout applies to a --stream") }
        if stream == nil && reconnect { throw ValidationError("--reconnect applies to a --stream") }
        if let size, parseSize(size) == nil {
            throw ValidationError("--size: expected WIDTHxHEIGHT such as 640x480, each side 1-8192 pixels, found \(size)")
        }
        if let fps, !(fps > 0 && fps <= 1000) {
            throw ValidationError("--fps: expected a rate above 0 and at most 1000 frames per second, found \(fps)")
        }
        if (input != nil || stream != nil) && (fps != nil || size != nil) {
            throw ValidationError("--fps and --size set a camera's capture; an --input file or a --stream plays at its own rate and size")
        }
        if let out {
            try OutputPaths.checkVideoFile(out, option: "--out")
            try OutputPaths.checkDistinct([("--out", out)], inputs: (input.map { [$0] } ?? []) + recognition.detection.inputFiles,
                                          inputName: "an input (the video or a model)")
        }
        if maxFrames < 0 { throw ValidationError("--max-frames: expected 0 or more, found \(maxFrames)") }
        let device = camera ?? VideoSource.defaultCamera
        if input == nil, stream == nil, device.hasPrefix("/dev/"), !FileManager.default.fileExists(atPath: device) {
            let cameras = ((try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? [])
                .filter { $0.hasPrefix("video") }.sorted().map { "/dev/" + $0 }
            throw ValidationError("no camera at \(device) (\(cameras.isEmpty ? "this machine has no /dev/video device" : "cameras here: " + cameras.joined(separator: ", "))); give --camera DEVICE, --stream URL or --input FILE")
        }
    }

    private func parseSize(_ text: String) -> (width: Int, height: Int)? {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), (1...8192).contains(width), (1...8192).contains(height) else { return nil }
        return (width, height)
    }

    func run() throws {
        let tools = try FFmpegTools.locate()
        let source: VideoSource
        if let input {
            source = .recording(input)
        } else if let stream {
            source = streamTimeout.map { .stream(url: stream, timeoutSeconds: $0) } ?? .stream(url: stream)
        } else {
            let requested = size.flatMap(parseSize)
            source = .camera(device: camera ?? VideoSource.defaultCamera, width: requested?.width, height: requested?.height, frameRate: fps)
        }
        let live = source.isLive || realtime
        // No summaries: live reports frame by frame, and a camera's run may see new tracks for days.
        let tracker = try recognition.makeTracker(try recognition.makeRecognizer(), keepsSummaries: false)
        let interruption = Interruption.install()
        guard let reader = try LiveInput.open(source, realTime: realtime, tools: tools, retrying: reconnect,
                                              interruption: interruption) else {
            StandardError.write("live: stopped before \(source.name) opened\n")
            throw ExitCode(130)
        }
        let info = reader.info
        // A reader of standard output that goes away (`| head`) ends the run as Ctrl-C does: the recording is kept.
        BrokenPipeSignal.ignore()
        let isStream = if case .stream = source { true } else { false }
        // A stream's announced rate can be a clock's (90000): its recording is then timed at a nominal 30 frames/s.
        let recordingRate = isStream && !(1...120).contains(info.frameRate) ? "30" : info.frameRateText
        let writer = try out.map { path in
            try VideoWriter(path: path, width: info.width, height: info.height, frameRate: recordingRate,
                            settings: .init(wallClockTimestamps: live), tools: tools)
        }
        let forcedExit = interruption.removeOnForcedExit(files: [writer?.temporaryPath].compactMap { $0 },
                                                         processes: [writer?.encoderProcessIdentifier].compactMap { $0 })
        defer { interruption.release(forcedExit) }
        let pace = isStream ? ", frames as they come" : " at \(ProgressBar.formatRate(info.frameRate)) frames/s"
        StandardError.write("live: \(source.name) \(info.width)x\(info.height)\(pace)\(live ? ", skipping frames that arrive while busy" : "")\n")

        // Every frame read is put, so a delivery's number counts the frames read (its index is one less).
        let mailbox = FrameMailbox<RGBImage, VideoError>(policy: live ? .newest : .every)
        let input = LiveInput(reader: reader, tools: tools, mailbox: mailbox, reconnects: reconnect)
        input.start()
        // A camera or file that stops delivering would hold the loop in `next()`: the first signal ends the wait.
        let stopper = interruption.whenRequested {
            mailbox.close()
            input.interrupt()
        }
        // A stream's frames come at its own pace, with gaps when it reconnects: their time is the clock's.
        var firstArrival: ContinuousClock.Instant?

        let status = LiveStatus()
        let annotator = AnnotationRenderer()
        var processed = 0
        // An input that breaks off (a camera unplugged, a damaged file) keeps the recording of what was analysed and
        // the summary, then fails the command.
        var inputFailure: VideoError?
        var outputFailed = false
        do {
            while true {
                let next: FrameMailbox<RGBImage, VideoError>.Delivery?
                do {
                    next = try mailbox.next()
                } catch {
                    inputFailure = error
                    break
                }
                guard let delivery = next else { break }
                if interruption.isRequested { break }
                var frame = delivery.frame
                let index = delivery.number - 1
                let faces = tracker.process(frame, index: index)
                let time: Double
                if isStream {
                    let start = firstArrival ?? delivery.arrival
                    firstArrival = start
                    time = Stopwatch.seconds(delivery.arrival - start)
                } else {
                    time = Double(index) / info.frameRate
                }
                let latency = Stopwatch.seconds(ContinuousClock.now - delivery.arrival) * 1000
                let line = try JSONLines.encode(FrameRecord(frame: index, time: time, faces: faces,
                                                            latencyMilliseconds: latency)) + "\n"
                do throws(VideoCommandError) {
                    try JSONLines.writeToStandardOutput(line)
                } catch {
                    StandardError.write("live: \(error): stopping\n")
                    if case .standardOutputFailed = error { outputFailed = true }
                    break
                }
                if let writer {
                    annotator.annotate(&frame, trackedFaces: faces)
                    try writer.write(frame)
                }
                processed += 1
                status.record(latencyMilliseconds: latency, faces: faces.count, dropped: mailbox.dropped)
                if maxFrames > 0 && processed >= maxFrames { break }
            }
        } catch {
            interruption.release(stopper)
            input.stop()
            writer?.cancel()
            throw error
        }
        interruption.release(stopper)
        // Done with the input (--max-frames, a closed output): its decoder, in a process group of its own, would
        // otherwise go on reading a camera or stream after emovere has exited.
        input.stop()
        status.finish(dropped: mailbox.dropped)
        if input.reconnectionCount > 0 { StandardError.write("  the stream was opened again \(input.reconnectionCount.counting("time"))\n") }
        if processed == 0, let inputFailure, !interruption.isRequested {
            writer?.cancel()  // nothing to keep: the input's failure is the news, not the empty recording's
            throw inputFailure
        }
        if processed == 0 {
            // Stopped before a frame was analysed (Ctrl-C while the stream was still coming): nothing to record.
            writer?.cancel()
            if let out { StandardError.write("  no frame was analysed: \(out) not written\n") }
        } else {
            try writer?.finish()
            interruption.release(forcedExit)  // its encoder is reaped: a forced exit must not kill the next owner of its number
            if let out { StandardError.write("  wrote \(out)\n") }
        }
        // An input stopped by Ctrl-C (its decoder killed) did not break off.
        if let inputFailure, !interruption.isRequested { throw inputFailure }
        if outputFailed { throw ExitCode(1) }  // the recording is kept; the lines a reader counted on are not all there
    }
}
