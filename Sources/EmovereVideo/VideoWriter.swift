import EmovereCore
import EmovereVision
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Encodes frames into a video file through an `ffmpeg` subprocess reading raw `rgb24` frames on its stdin.
///
/// The default output is H.264 (libx264, `yuv420p`, CRF 23) in MP4 with `-movflags +faststart`; the audio of
/// `audioSource` is copied in (re-encoded as AAC) when it has any. ffmpeg writes to a hidden temporary file beside
/// the destination (named by `AtomicFile`, ending in the destination's extension), which ``finish()`` syncs and
/// renames to the destination only after ffmpeg succeeded: a partial output never appears under its name. ``cancel()``, a failure, or
/// deinitialization without `finish()` remove the temporary file.
///
/// ```swift
/// let writer = try VideoWriter(path: "annotated.mp4", width: 640, height: 480, frameRate: "30",
///                              audioSource: .file("input.mp4"))
/// for frame in frames { try writer.write(frame) }
/// try writer.finish()
/// ```
///
/// A writer is used from one thread at a time.
public final class VideoWriter {
    /// Encoder settings.
    public struct Settings: Sendable, Equatable {
        /// x264 constant rate factor, 0 (lossless) to 51; 23 is x264's default, 18 is visually lossless.
        public var constantRateFactor: Int
        /// x264 preset, `ultrafast` to `veryslow`: slower presets compress better.
        public var preset: String
        /// Encoder threads (0: ffmpeg decides).
        public var threads: Int
        /// Time frames by when they reach the encoder instead of by their count, for live sources that may skip
        /// frames: the video then plays at the pace it was captured (frames are repeated to fill the gaps).
        public var wallClockTimestamps: Bool

        /// Creates settings; the defaults favour speed (`veryfast`).
        public init(constantRateFactor: Int = 23, preset: String = "veryfast", threads: Int = 0,
                    wallClockTimestamps: Bool = false) {
            self.constantRateFactor = constantRateFactor
            self.preset = preset
            self.threads = threads
            self.wallClockTimestamps = wallClockTimestamps
        }
    }

    /// The destination path.
    public let path: String
    /// Frame width in pixels.
    public let width: Int
    /// Frame height in pixels.
    public let height: Int
    /// Frames written so far.
    public private(set) var framesWritten = 0
    /// Set by ``finish()`` when the download of a remote `audioSource` failed part-way: the video is whole, its sound
    /// silent from there on (ffmpeg's messages, the password hidden). nil otherwise.
    public private(set) var soundProblem: String?

    /// The hidden file ffmpeg writes into until ``finish()`` renames it.
    public let temporaryPath: String

    private let encoder: Subprocess
    /// The encoder's process id (ffmpeg), for a caller that must stop it on a forced exit.
    public var encoderProcessIdentifier: Int32 { encoder.process.processIdentifier }
    private let input: FileHandle
    /// Where the audio comes from (its URL's password is hidden in ffmpeg's messages).
    private let audioSource: VideoSource?
    private var state = State.open

    private enum State { case open, finished, failed }

    /// The file extensions of the containers the writer's H.264 stream goes into (a path without one gets MP4).
    public static let containerExtensions = ["mp4", "mov", "m4v", "mkv", "avi", "ts"]

    /// Starts an encoder for `width` x `height` frames at `frameRate` frames per second.
    ///
    /// - Parameters:
    ///   - path: The destination; its extension chooses the container (`containerExtensions`). An existing
    ///     file there is replaced only when encoding succeeds.
    ///   - frameRate: A number or fraction as ffmpeg reads it (`"30"`, `"30000/1001"`).
    ///   - audioSource: A recording (a file or a remote file) whose first audio stream, if any, is added to the
    ///     output (AAC).
    ///   - settings: Encoder settings.
    ///   - tools: The ffmpeg executables (default: found on `PATH`).
    /// - Throws: ``VideoError/invalidArgument(name:expected:found:)`` for an empty size, a bad rate or extension,
    ///   ``VideoError/outputFailed(path:reason:)`` when the destination folder does not exist, or a
    ///   ``VideoError/toolNotFound(name:searched:)``.
    public init(path: String, width: Int, height: Int, frameRate: String, audioSource: VideoSource? = nil,
                settings: Settings = Settings(), tools: FFmpegTools? = nil) throws(VideoError) {
        guard width > 0, height > 0 else {
            throw .invalidArgument(name: "frame size", expected: "a positive width and height", found: "\(width)x\(height)")
        }
        guard let rate = VideoInfo.rational(frameRate), rate > 0, rate.isFinite else {
            throw .invalidArgument(name: "frame rate", expected: "a positive number or fraction such as 30000/1001",
                                   found: frameRate)
        }
        guard (0...51).contains(settings.constantRateFactor) else {
            throw .invalidArgument(name: "constant rate factor", expected: "0...51", found: "\(settings.constantRateFactor)")
        }
        let tools = try FFmpegTools.resolve(tools)
        let url = URL(fileURLWithPath: path)
        let fileExtension = url.pathExtension.isEmpty ? "mp4" : url.pathExtension
        guard Self.containerExtensions.contains(fileExtension.lowercased()) else {
            throw .invalidArgument(name: "output file", expected: "a name ending in "
                                       + Self.containerExtensions.map { "." + $0 }.joined(separator: ", ")
                                       + " (or no extension: MP4)", found: path)
        }
        let temporaryPath: String
        do {
            temporaryPath = try AtomicFile.temporaryPath(for: path, tag: "partial", suffix: "." + fileExtension)
        } catch {
            throw .outputFailed(path: path, reason: error.description)
        }
        self.path = path
        self.width = width
        self.height = height
        self.temporaryPath = temporaryPath
        self.audioSource = audioSource

        var arguments = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                         "-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", "\(width)x\(height)",
                         "-framerate", frameRate]
            + (settings.wallClockTimestamps ? ["-use_wallclock_as_timestamps", "1"] : []) + ["-i", "pipe:0"]
        if let audioSource {
            // The video decides the length: a shorter audio track is padded with silence (`-shortest` alone ends the
            // output with the audio and stops reading frames), a longer one cut.
            arguments += audioSource.inputArguments(realTime: false)
                + ["-map", "0:v:0", "-map", "1:a:0?", "-c:a", "aac", "-af", "apad", "-shortest"]
        } else {
            arguments += ["-map", "0:v:0"]
        }
        // yuv420p (the format every player reads) needs even sides: pad odd ones by a pixel.
        if width % 2 != 0 || height % 2 != 0 {
            arguments += ["-vf", "pad=\(width + width % 2):\(height + height % 2)"]
        }
        arguments += ["-c:v", "libx264", "-preset", settings.preset, "-crf", String(settings.constantRateFactor),
                      "-pix_fmt", "yuv420p"]
        if settings.wallClockTimestamps { arguments += ["-r", frameRate] }
        if settings.threads > 0 { arguments += ["-threads", String(settings.threads)] }
        if ["mp4", "mov", "m4v"].contains(fileExtension.lowercased()) { arguments += ["-movflags", "+faststart"] }
        arguments.append("file:" + temporaryPath)

        BrokenPipeSignal.ignore()
        let pipe = Pipe()
        encoder = try Subprocess(executable: tools.ffmpeg, arguments: arguments, input: pipe)
        input = pipe.fileHandleForWriting
    }

    deinit {
        if state == .open { abandon() }
    }

    /// Sends one frame to the encoder.
    /// - Throws: ``VideoError/frameSizeMismatch(expectedWidth:expectedHeight:foundWidth:foundHeight:)`` for a frame
    ///   of another size; ``VideoError/encodingFailed(path:framesWritten:details:)`` when ffmpeg stopped (the
    ///   temporary file is then removed).
    public func write(_ frame: RGBImage) throws(VideoError) {
        guard state == .open else {
            throw .encodingFailed(path: path, framesWritten: framesWritten, details: "the writer is already closed")
        }
        guard frame.width == width, frame.height == height else {
            throw .frameSizeMismatch(expectedWidth: width, expectedHeight: height,
                                     foundWidth: frame.width, foundHeight: frame.height)
        }
        let descriptor = input.fileDescriptor
        var failure: Int32 = 0
        frame.pixels.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var sent = 0
            while sent < bytes.count {
                let count = systemWrite(descriptor, base + sent, bytes.count - sent)
                if count >= 0 {
                    sent += count
                } else if errno != EINTR {
                    failure = errno
                    return
                }
            }
        }
        if failure != 0 {
            let reason = String(cString: strerror(failure))
            abandon()
            throw .encodingFailed(path: path, framesWritten: framesWritten,
                                  details: "ffmpeg stopped reading frames (\(reason))\n" + encoderMessages())
        }
        framesWritten += 1
    }

    /// The end of ffmpeg's messages, a remote audio source's password hidden.
    private func encoderMessages() -> String {
        let messages = encoder.errorTail.text()
        return audioSource?.hidingPassword(in: messages) ?? messages
    }

    /// Closes the stream, waits for ffmpeg and moves the finished file to ``path``.
    /// - Throws: ``VideoError/encodingFailed(path:framesWritten:details:)`` when ffmpeg failed or no frame was
    ///   written, ``VideoError/outputFailed(path:reason:)`` when the rename fails; the temporary file is removed.
    public func finish() throws(VideoError) {
        guard state == .open else {
            throw .encodingFailed(path: path, framesWritten: framesWritten, details: "the writer is already closed")
        }
        do {
            try input.close()
        } catch {
            abandon()
            throw .encodingFailed(path: path, framesWritten: framesWritten, details: "closing ffmpeg's input failed: \(error)")
        }
        let status = encoder.wait()
        let messages = encoderMessages()
        guard status == 0, framesWritten > 0 else {
            abandon()
            throw .encodingFailed(path: path, framesWritten: framesWritten,
                                  details: framesWritten == 0 ? "no frames were written" : "ffmpeg exited with status \(status)\n" + messages)
        }
        do {
            try AtomicFile.commit(temporaryPath: temporaryPath, to: path, synchronizingFile: true)
        } catch {
            abandon()
            throw .outputFailed(path: path, reason: "could not move the finished video from \(temporaryPath): \(error.reason)")
        }
        if audioSource?.downloadFailed(messages: messages) == true { soundProblem = messages }
        state = .finished
    }

    /// Stops the encoder and removes the temporary file; nothing is written to ``path``.
    public func cancel() {
        guard state == .open else { return }
        abandon()
    }

    /// Stops ffmpeg and removes its partial output.
    private func abandon() {
        state = .failed
        encoder.stop()
        if FileManager.default.fileExists(atPath: temporaryPath) {
            do {
                try FileManager.default.removeItem(atPath: temporaryPath)
            } catch {
                // Reported rather than thrown: this runs on paths that already throw a more useful error.
                StandardError.write("warning: could not remove the partial video \(temporaryPath): \(error)\n")
            }
        }
    }
}
