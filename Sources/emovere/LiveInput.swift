import EmovereCore
import EmovereVideo
import EmovereVision
import Foundation

/// The reading side of `live`: a thread that reads frames into a mailbox until the input ends, breaks off or the
/// mailbox is closed. With `reconnects` (a stream), a break, a stall or an end opens the stream again after a pause
/// (1 s, doubling to ``longestPause`` while it stays down) instead of ending the run; the frames keep the first
/// opening's size. ``open(_:realTime:tools:retrying:interruption:)`` makes the first opening, retried the same way.
final class LiveInput: @unchecked Sendable {
    /// The longest pause between two attempts to reopen a stream, in seconds.
    static let longestPause = 30.0

    private let source: VideoSource
    private let info: VideoInfo
    private let tools: FFmpegTools
    private let mailbox: FrameMailbox<RGBImage, VideoError>
    private let reconnects: Bool
    /// The reader in use (replaced on each reconnection), so `interrupt` reaches the decoder running now.
    private let reader: Locked<UnsafeSendable<VideoReader>>
    /// How many times the stream was opened again and delivered a frame.
    private let reconnections = Locked(0)
    /// Signalled when the reading thread has closed its last reader.
    private let stopped = DispatchSemaphore(value: 0)

    init(reader: VideoReader, tools: FFmpegTools, mailbox: FrameMailbox<RGBImage, VideoError>, reconnects: Bool) {
        source = reader.source
        info = reader.info
        self.tools = tools
        self.mailbox = mailbox
        self.reconnects = reconnects
        self.reader = Locked(UnsafeSendable(reader))
    }

    /// How many times the stream was opened again and delivered a frame, so far.
    var reconnectionCount: Int { reconnections.withValue { $0 } }

    /// Starts the reading thread.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "emovere.live-reader"
        thread.start()
    }

    /// Kills the decoder running now (from any thread): a read waiting on a stalled input ends.
    func interrupt() {
        reader.withValue { $0.value.interrupt() }
    }

    /// Closes the mailbox and kills the decoder, then waits (at most `seconds`, with a warning after) until the
    /// reading thread has closed its last reader: a decoder it was starting meanwhile, in a process group of its own,
    /// would otherwise outlive emovere, reading a camera or a stream.
    func stop(waitingAtMost seconds: Double = 5) {
        mailbox.close()
        interrupt()
        if stopped.wait(timeout: .now() + seconds) == .timedOut {
            StandardError.write("warning: the reader of \(source.name) did not stop within \(Int(seconds)) s; a decoder it was starting may go on after emovere ends\n")
        }
    }

    /// Opens `source`. With `retrying` (a stream with `--reconnect`), a stream that is down at start (refused,
    /// failing, not answering) is tried again after the pauses a reconnection takes, until it opens or
    /// `interruption` comes, which also stops a probe under way.
    /// - Returns: the reader, or nil when interrupted before the stream opened.
    /// - Throws: ``VideoError`` when the source cannot be opened (at once, or without `retrying`), or opens without a
    ///   usable video (nothing a pause mends).
    static func open(_ source: VideoSource, realTime: Bool, tools: FFmpegTools, retrying: Bool,
                     interruption: Interruption) throws(VideoError) -> VideoReader? {
        let cancellation = VideoCancellation()
        let stopper = interruption.whenRequested { cancellation.cancel() }
        defer { interruption.release(stopper) }
        let isStopped = { cancellation.isCancelled }
        var pause = 1.0
        while !isStopped() {
            do throws(VideoError) {
                return try VideoReader(source: source, realTime: realTime, tools: tools, cancellation: cancellation)
            } catch {
                if isStopped() { break }
                guard retrying, error.isTransient else { throw error }
                announceRetry(of: source, after: error, in: pause)
                guard wait(seconds: pause, unless: isStopped) else { break }
                pause = longer(pause)
            }
        }
        return nil
    }

    /// The pause before the next attempt while a stream stays down: twice `pause`, at most ``longestPause``.
    private static func longer(_ pause: Double) -> Double { min(pause * 2, longestPause) }

    /// Says on standard error why `source` is opened again and when.
    private static func announceRetry(of source: VideoSource, after failure: VideoError?, in pause: Double) {
        StandardError.write("live: \(failure.map { "\($0)" } ?? "\(source.name): the stream ended")\n"
                            + "live: opening \(source.name) again in \(String(format: "%g", pause)) s\n")
    }

    private func run() {
        var failure: VideoError?
        var pause = 1.0
        var reopened = false  // the reader is a reopening that has not delivered a frame yet
        // A reopening may find the stream's video under another stream number: it maps the first video stream.
        var reopeningInfo = info
        reopeningInfo.streamIndex = nil
        while !mailbox.isClosed {
            let current = reader.withValue { $0.value }
            var frame = RGBImage(width: info.width, height: info.height)
            let ended: Bool
            do throws(VideoError) {
                ended = try !current.read(into: &frame)
            } catch {
                failure = error
                ended = true
            }
            if !ended {
                if reopened { reconnections.withValue { $0 += 1 } }  // counted once it delivers
                reopened = false
                pause = 1
                mailbox.put(frame)
                continue
            }
            current.close()
            // A refusal (an HTTP or RTSP 4xx on a reopening: a password changed, a path removed) ends it for good.
            guard reconnects, !mailbox.isClosed, failure?.isTransient ?? true else { break }
            Self.announceRetry(of: source, after: failure, in: pause)
            failure = nil
            guard Self.wait(seconds: pause, unless: { mailbox.isClosed }) else { break }
            pause = Self.longer(pause)
            do throws(VideoError) {
                // Scaled to the first opening's size: the recording and the tracks go on at one size.
                let next = try VideoReader(source: source, info: reopeningInfo, tools: tools)
                reader.withValue { $0 = UnsafeSendable(next) }
                reopened = true
                if mailbox.isClosed { next.interrupt() }  // stopped while it opened: `interrupt` reached the last one
            } catch {
                failure = error
                break  // ffmpeg cannot be started at all: nothing a pause mends
            }
        }
        let last = reader.withValue { $0.value }
        last.close()  // again when it already was: harmless; outside the lock `interrupt` takes
        mailbox.finish(failure: failure)
        stopped.signal()
    }

    /// Waits `seconds`, or less when `isStopped` (Ctrl-C); returns whether it is still going on.
    private static func wait(seconds: Double, unless isStopped: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if isStopped() { return false }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return !isStopped()
    }
}

private extension VideoError {
    /// Whether opening a stream again later may succeed: it refused, failed or did not answer, rather than refusing
    /// this client or path (an HTTP or RTSP 4xx: a wrong password or path), sending no video (invalid data, an
    /// unknown protocol), opening without a usable video, or ffmpeg not starting at all.
    var isTransient: Bool {
        let permanent = ["Server returned 4", "failed: 4", "Invalid data found", "Protocol not found"]
        switch self {
        case let .unreadableInput(_, details):
            return !permanent.contains { details.contains($0) }
        case let .brokenStream(_, _, details):
            // A reopening is not probed: a refusal (a password changed, a path removed) shows here.
            return !permanent.contains { details.contains($0) }
        case .stalled: return true
        default: return false
        }
    }
}
