import EmovereVision
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Decodes a video frame by frame through an `ffmpeg` subprocess that writes raw `rgb24` frames to a pipe.
///
/// ```swift
/// let reader = try VideoReader(source: .file("interview.mp4"))
/// var frame = RGBImage(width: 0, height: 0, pixels: [])
/// while try reader.read(into: &frame) {
///     let gray = frame.grayscale()
///     ...
/// }
/// ```
///
/// Streaming: only one frame is held at a time (plus the pipe's buffer), whatever the video's length, and
/// ``read(into:)`` fills the caller's frame in place, so a loop that reuses one `RGBImage` allocates nothing per
/// frame. Frames of a file or camera come at a constant rate (`info.frameRate`): the timestamp of frame `n` is
/// `n / frameRate`. A stream's frames come as it sends them (no frame repeated or dropped to keep a rate), and a
/// stream that sends no frame for its timeout fails the read.
///
/// A reader is used from one thread at a time. ``close()`` (or deinitialization) stops ffmpeg.
public final class VideoReader {
    /// What ffprobe said about the source.
    public let info: VideoInfo
    /// The source being decoded.
    public let source: VideoSource
    /// Complete frames read so far; the index of the next frame.
    public private(set) var framesRead = 0

    private let decoder: Subprocess
    private let output: FileHandle
    private var finished = false

    /// Probes `source` and starts decoding it.
    ///
    /// - Parameters:
    ///   - source: A file or a capture device.
    ///   - realTime: Deliver frames no faster than the video's frame rate (ffmpeg's `-re`), as a camera would.
    ///   - tools: The ffmpeg executables (default: found on `PATH`).
    ///   - cancellation: Stops the probe from another thread (Ctrl-C while a stream does not answer).
    /// - Throws: ``VideoError`` when ffmpeg is missing, the input cannot be read or has no video.
    public convenience init(source: VideoSource, realTime: Bool = false, tools: FFmpegTools? = nil,
                            cancellation: VideoCancellation? = nil) throws(VideoError) {
        let tools = try FFmpegTools.resolve(tools)
        let info = try VideoInfo.probe(source, tools: tools, cancellation: cancellation)
        try self.init(source: source, info: info, realTime: realTime, tools: tools)
    }

    /// Starts decoding `source`, already probed as `info` (frames are scaled to `info.width` x `info.height`
    /// if the stream's size differs).
    public init(source: VideoSource, info: VideoInfo, realTime: Bool = false, tools: FFmpegTools? = nil)
        throws(VideoError) {
        let tools = try FFmpegTools.resolve(tools)
        self.info = info
        self.source = source
        let pipe = Pipe()
        let arguments = ["-nostdin", "-hide_banner", "-loglevel", "error"] + source.inputArguments(realTime: realTime)
            + ["-map", info.streamIndex.map { "0:\($0)" } ?? "0:v:0", "-an", "-sn", "-dn",
               // Scaling to the probed size is a no-op for ordinary files and guards against size changes mid-stream.
               "-vf", "scale=\(info.width):\(info.height)"]
            // A stream's announced rate can be a clock's (90000): its frames pass through as they come instead.
            // (`-vsync` rather than its successor `-fps_mode`, which ffmpeg 4 lacks.)
            + (source.stallTimeoutSeconds == nil ? ["-r", info.frameRateText] : ["-vsync", "passthrough"])
            + ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        decoder = try Subprocess(executable: tools.ffmpeg, arguments: arguments, output: pipe)
        output = pipe.fileHandleForReading
        Self.enlargePipe(output.fileDescriptor, to: min(max(info.frameByteCount, 1 << 16), 1 << 20))
    }

    deinit {
        close()
    }

    /// Reads the next frame into `frame`, reusing its storage when it already has the video's size.
    ///
    /// - Returns: false at the end of the video (after which `frame` is unchanged).
    /// - Throws: ``VideoError/brokenStream(path:framesRead:details:)`` when the stream ends inside a frame or
    ///   ffmpeg fails, with ffmpeg's last messages.
    public func read(into frame: inout RGBImage) throws(VideoError) -> Bool {
        guard !finished else { return false }
        if frame.width != info.width || frame.height != info.height {
            frame = RGBImage(width: info.width, height: info.height)
        }
        let descriptor = output.fileDescriptor
        // A stream that stalls would hold the read for ever: without a whole frame in time, the decoder is killed.
        let deadline = source.stallTimeoutSeconds.map { ContinuousClock.now + .milliseconds(Int($0 * 1000)) }
        var stalled = false
        var filled = 0
        var failure: Int32 = 0
        frame.pixels.withUnsafeMutableBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            while filled < bytes.count {
                if let deadline, !Self.waitUntilReadable(descriptor, deadline: deadline) {
                    stalled = true
                    return
                }
                let count = systemRead(descriptor, base + filled, bytes.count - filled)
                if count > 0 {
                    filled += count
                } else if count == 0 {
                    return
                } else if errno != EINTR {
                    failure = errno
                    return
                }
            }
        }
        if filled == info.frameByteCount {
            framesRead += 1
            return true
        }
        finished = true
        if stalled, let seconds = source.stallTimeoutSeconds {
            decoder.stop()
            throw .stalled(path: source.name, seconds: seconds, framesRead: framesRead)
        }
        let status = decoder.wait()
        let messages = source.hidingPassword(in: decoder.errorTail.text())
        if failure != 0 {
            throw .brokenStream(path: source.name, framesRead: framesRead,
                                details: "reading the decoder's pipe failed: \(String(cString: strerror(failure)))\n" + messages)
        }
        if filled > 0 {
            throw .brokenStream(path: source.name, framesRead: framesRead,
                                details: "the last frame has \(filled) of \(info.frameByteCount) bytes\n" + messages)
        }
        if status != 0 {
            throw .brokenStream(path: source.name, framesRead: framesRead,
                                details: "ffmpeg exited with status \(status)\n" + messages)
        }
        if source.downloadFailed(messages: messages) {
            throw .brokenStream(path: source.name, framesRead: framesRead, details: messages)
        }
        // ffmpeg conceals damaged data and exits 0; a stream far shorter than announced, with errors, is broken.
        if let expected = info.frameCount, !info.frameCountIsEstimate, framesRead < expected - 1,
           !messages.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw .brokenStream(path: source.name, framesRead: framesRead,
                                details: "expected \(expected) frames\n" + messages)
        }
        // Without a frame count (MKV, WebM, MPEG-TS) ffmpeg ends a truncated file quietly, with status 0: a video stream
        // whose frames stop more than a second and more than a tenth short of its own duration broke off. (The
        // container's duration may be another stream's: only the stream's, or that of a file of one stream, counts.)
        if let estimate = info.frameCount, info.frameCountIsEstimate, info.durationIsTheVideoStreams,
           Double(framesRead) < 0.9 * Double(estimate), Double(estimate - framesRead) > info.frameRate {
            throw .brokenStream(path: source.name, framesRead: framesRead,
                                details: "its duration (\(info.duration.map { String(format: "%.2f s", $0) } ?? "?")) holds about \(estimate) frames")
        }
        // ffmpeg takes a camera's read error (unplugged: "No such device") for the end of its input and exits 0, but a
        // camera never ends on its own. (A stream may end: a server that closes an HTTP stream it sent whole gets the
        // same "Stream ends prematurely" as one cut off, so a stream's quiet end stays an end.)
        if case .camera = source {
            let reported = !messages.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            throw .brokenStream(path: source.name, framesRead: framesRead,
                                details: reported ? messages : "the camera stopped sending frames")
        }
        return false
    }

    /// Reads the next frame into a new image; nil at the end of the video.
    public func nextFrame() throws(VideoError) -> RGBImage? {
        var frame = RGBImage(width: info.width, height: info.height)
        return try read(into: &frame) ? frame : nil
    }

    /// Kills the decoder if it still runs (from another thread, on Ctrl-C): a read waiting on a stalled input ends.
    public func interrupt() {
        decoder.interrupt()
    }

    /// Stops decoding (ffmpeg is terminated if it is still running); later reads return false.
    public func close() {
        finished = true
        decoder.stop()
    }

    /// Waits until `descriptor` has data or its end to read; false when `deadline` passes first.
    private static func waitUntilReadable(_ descriptor: Int32, deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return false }
            let (seconds, attoseconds) = left.components
            let milliseconds = Int32(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1, Int64(Int32.max)))
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, milliseconds)
            if ready > 0 { return true }  // data, the writer's end (POLLHUP) or an error: the read says which
            if ready < 0 && errno != EINTR { return true }
        }
    }

    /// Asks Linux for a pipe buffer of `size` bytes, so ffmpeg can write about a frame ahead while we work.
    /// A refusal (for example above `/proc/sys/fs/pipe-max-size`) only costs speed, so it is not an error.
    private static func enlargePipe(_ descriptor: Int32, to size: Int) {
        #if os(Linux)
        let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ
        _ = fcntl(descriptor, setPipeSize, Int32(size))
        #endif
    }
}
