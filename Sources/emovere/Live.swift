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
        abstract: "Recognise emotions live from a camera (V4L2) or from a file played at its real pace.",
        discussion: """
            Prints one JSON line per processed frame on standard output (frame, time, latency, faces with track, \
            box, emotion and probabilities) and a status line with frames/s and latency on standard error. \
            With a camera or --realtime, frames that arrive while the previous one is still being processed are \
            skipped (counted as dropped), so the results stay current. Stop with Ctrl-C; --out is then finished \
            and kept.
            """)

    @Option(help: "V4L2 capture device (the default when --input is not given: /dev/video0).")
    var camera: String?

    @Option(help: "Read this video file instead of a camera.")
    var input: String?

    @Flag(help: "Deliver --input frames at the file's frame rate, as a camera would.")
    var realtime = false

    @Option(help: "Camera frame size, e.g. 640x480 (default: the camera's).")
    var size: String?

    @Option(help: "Camera frame rate (default: the camera's).")
    var fps: Double?

    @Option(help: "Write the annotated stream here (H.264 MP4).")
    var out: String?

    @Option(help: "Stop after this many processed frames (0: until the input ends or Ctrl-C).")
    var maxFrames = 0

    @OptionGroup var recognition: RecognitionOptions

    func validate() throws {
        if input != nil && camera != nil { throw ValidationError("use either --camera or --input, not both") }
        if realtime && input == nil { throw ValidationError("--realtime applies to --input files; a camera is always live") }
        if let size, parseSize(size) == nil {
            throw ValidationError("--size: expected WIDTHxHEIGHT such as 640x480, found \(size)")
        }
        if let fps, !(fps > 0) { throw ValidationError("--fps: expected a positive rate, found \(fps)") }
        if maxFrames < 0 { throw ValidationError("--max-frames: expected 0 or more, found \(maxFrames)") }
    }

    private func parseSize(_ text: String) -> (width: Int, height: Int)? {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), width > 0, height > 0 else { return nil }
        return (width, height)
    }

    func run() throws {
        let tools = try FFmpegTools.locate()
        let source: VideoSource
        if let input {
            source = .file(input)
        } else {
            let requested = size.flatMap(parseSize)
            source = .camera(device: camera ?? "/dev/video0", width: requested?.width, height: requested?.height, frameRate: fps)
        }
        let live = source.isLive || realtime
        let reader = try VideoReader(source: source, realTime: realtime, tools: tools)
        let info = reader.info
        let tracker = try recognition.makeTracker()
        let interruption = Interruption.install()
        let writer = try out.map { path in
            try VideoWriter(path: path, width: info.width, height: info.height, frameRate: info.frameRateText,
                            settings: .init(wallClockTimestamps: live), tools: tools)
        }
        FileHandle.standardError.write(Data("live: \(source.name) \(info.width)x\(info.height) at \(ProgressBar.formatRate(info.frameRate)) frames/s\(live ? ", skipping frames that arrive while busy" : "")\n".utf8))

        let mailbox = FrameMailbox(keepLatestOnly: live)
        let pump = Thread { [mailbox, reader = UnsafeSendable(reader)] in
            var failure: VideoError?
            while !mailbox.isClosed {
                var frame = RGBImage(width: info.width, height: info.height)
                do throws(VideoError) {
                    guard try reader.value.read(into: &frame) else { break }
                } catch {
                    failure = error
                    break
                }
                mailbox.put(frame, index: reader.value.framesRead - 1)
            }
            reader.value.close()
            mailbox.finish(error: failure)
        }
        pump.name = "emovere.live-reader"
        pump.start()

        let status = LiveStatus()
        let annotator = AnnotationRenderer()
        var processed = 0
        do {
            while let delivery = try mailbox.take() {
                if interruption.isRequested { break }
                var frame = delivery.frame
                let faces = tracker.process(frame, index: delivery.index)
                let time = Double(delivery.index) / info.frameRate
                let latency = Stopwatch.seconds(ContinuousClock.now - delivery.arrival) * 1000
                let line = try JSONLines.encode(FrameRecord(frame: delivery.index, time: time, faces: faces,
                                                            latencyMilliseconds: latency)) + "\n"
                try FileHandle.standardOutput.write(contentsOf: Data(line.utf8))
                if let writer {
                    annotator.annotate(&frame, trackedFaces: faces)
                    try writer.write(frame)
                }
                processed += 1
                status.record(latencyMilliseconds: latency, faces: faces.count, dropped: mailbox.dropped)
                if maxFrames > 0 && processed >= maxFrames { break }
            }
        } catch {
            mailbox.close()
            writer?.cancel()
            throw error
        }
        mailbox.close()
        status.finish(dropped: mailbox.dropped)
        try writer?.finish()
        if let out { FileHandle.standardError.write(Data("  wrote \(out)\n".utf8)) }
    }
}

/// Hands frames from the reader thread to the processing loop. With `keepLatestOnly` a new frame replaces one
/// not yet taken (counted in `dropped`); otherwise the reader waits until the previous frame is taken.
final class FrameMailbox: @unchecked Sendable {
    struct Delivery {
        var frame: RGBImage
        var index: Int
        var arrival: ContinuousClock.Instant
    }

    private let condition = NSCondition()
    private let keepLatestOnly: Bool
    private var pending: Delivery?
    private var ended = false
    private var closed = false
    private var failure: VideoError?
    private var droppedCount = 0

    init(keepLatestOnly: Bool) {
        self.keepLatestOnly = keepLatestOnly
    }

    var dropped: Int {
        condition.lock()
        defer { condition.unlock() }
        return droppedCount
    }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    func put(_ frame: RGBImage, index: Int) {
        condition.lock()
        defer { condition.unlock() }
        if keepLatestOnly {
            if pending != nil { droppedCount += 1 }
        } else {
            while pending != nil && !closed { condition.wait() }
        }
        guard !closed else { return }
        pending = Delivery(frame: frame, index: index, arrival: .now)
        condition.broadcast()
    }

    /// The next frame; nil at the end of the input; throws the reader's error.
    func take() throws(VideoError) -> Delivery? {
        condition.lock()
        defer { condition.unlock() }
        while pending == nil && !ended && !closed { condition.wait() }
        if let delivery = pending {
            pending = nil
            condition.broadcast()
            return delivery
        }
        if let failure { throw failure }
        return nil
    }

    /// The reader stopped (at the end, or with `error`).
    func finish(error: VideoError?) {
        condition.lock()
        defer { condition.unlock() }
        ended = true
        failure = error
        condition.broadcast()
    }

    /// The consumer stopped: the reader ends at its next frame.
    func close() {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        pending = nil
        condition.broadcast()
    }
}

/// The status line of `live`: frames/s over the last second, latency, dropped frames and faces, on standard
/// error (redrawn in place on a terminal, one line every 5 seconds otherwise).
final class LiveStatus {
    private let output = ProgressOutput.standardError
    private let start = ContinuousClock.now
    private var lastPrint: ContinuousClock.Instant?
    private var recent: [ContinuousClock.Instant] = []
    private var frames = 0
    private var latencySum = 0.0
    private var latencyMaximum = 0.0
    private var lastLatency = 0.0
    private var faces = 0

    func record(latencyMilliseconds: Double, faces: Int, dropped: Int) {
        let now = ContinuousClock.now
        frames += 1
        latencySum += latencyMilliseconds
        latencyMaximum = max(latencyMaximum, latencyMilliseconds)
        lastLatency = latencyMilliseconds
        self.faces = faces
        recent.append(now)
        recent.removeAll { now - $0 > .seconds(1) }
        let interval: Duration = output.isTerminal ? .milliseconds(500) : .seconds(5)
        if let lastPrint, now - lastPrint < interval { return }
        lastPrint = now
        let rate = recent.count > 1 ? Double(recent.count - 1) / Stopwatch.seconds(now - recent[0]) : 0
        let line = String(format: "live: %d frames  %@ frames/s  latency %.0f ms  dropped %d  faces %d",
                          frames, ProgressBar.formatRate(rate), latencyMilliseconds, dropped, faces)
        output.write(output.isTerminal ? "\r" + line + "   " : line + "\n")
    }

    func finish(dropped: Int) {
        let seconds = Stopwatch.seconds(ContinuousClock.now - start)
        let line = String(format: "live: %d frames in %.1f s (%@ frames/s), latency mean %.0f ms, max %.0f ms, dropped %d",
                          frames, seconds, ProgressBar.formatRate(seconds > 0 ? Double(frames) / seconds : 0),
                          frames > 0 ? latencySum / Double(frames) : 0, latencyMaximum, dropped)
        output.write((output.isTerminal ? "\r" : "") + line + "\n")
    }
}
