import EmovereCore
import Foundation

/// Why reading or writing a video failed.
///
/// Every message says what was expected and what was found; the ones caused by ffmpeg end with the last lines
/// ffmpeg printed on its standard error.
public enum VideoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `ffmpeg` or `ffprobe` executable is not installed (or not on `PATH`).
    case toolNotFound(name: String, searched: [String])
    /// A subprocess could not be started.
    case launchFailed(tool: String, reason: String)
    /// The input does not exist or is not a file.
    case missingInput(path: String)
    /// ffprobe could not read the input: not a video, an unsupported format or a damaged header.
    case unreadableInput(path: String, details: String)
    /// The input has no video stream (for example an audio-only file).
    case noVideoStream(path: String)
    /// ffprobe reported a video stream without a usable size or frame rate.
    case invalidStreamProperties(path: String, expected: String, found: String)
    /// The decoder stopped in the middle of a frame or failed after `framesRead` complete frames; `details` holds the
    /// reason on its first line, then ffmpeg's last messages.
    case brokenStream(path: String, framesRead: Int, details: String)
    /// A stream gave no answer to the probe (`framesRead` nil), or no next frame, for `seconds` (its timeout).
    case stalled(path: String, seconds: Double, framesRead: Int?)
    /// The encoder failed; the partial output was removed.
    case encodingFailed(path: String, framesWritten: Int, details: String)
    /// A frame of the wrong size was passed to a writer.
    case frameSizeMismatch(expectedWidth: Int, expectedHeight: Int, foundWidth: Int, foundHeight: Int)
    /// An argument is out of range.
    case invalidArgument(name: String, expected: String, found: String)
    /// A file-system operation on the output failed.
    case outputFailed(path: String, reason: String)
    /// The operation was cancelled; no output was left behind.
    case cancelled(path: String)

    public var description: String {
        switch self {
        case let .toolNotFound(name, searched):
            return "\(name) not found (searched \(searched.isEmpty ? "an empty PATH" : searched.joined(separator: ":"))); "
                + "video support needs FFmpeg: install it with `apt-get install ffmpeg` (Debian/Ubuntu) "
                + "or set EMOVERE_FFMPEG_DIRECTORY to the folder holding ffmpeg and ffprobe"
        case let .launchFailed(tool, reason):
            return "could not start \(tool): \(reason)"
        case let .missingInput(path):
            return "\(path): no such file (expected a video file or a capture device)"
        case let .unreadableInput(path, details):
            return "\(path): not a readable video (ffprobe could not open it)\(Self.tail(details))"
        case let .noVideoStream(path):
            return "\(path): expected a video stream, found none (audio-only or data file?)"
        case let .invalidStreamProperties(path, expected, found):
            return "\(path): expected \(expected), found \(found)"
        case let .brokenStream(path, framesRead, details):
            let (reason, said) = Self.split(details)
            return "\(path): the video stream broke off after \(framesRead.counting("complete frame"))"
                + reason + said
        case let .stalled(path, seconds, framesRead):
            let timeout = String(format: "%g s", seconds)
            guard let framesRead else {
                return "\(path): no answer within \(timeout) (the stream's timeout): is the address right and the stream on?"
            }
            return "\(path): no frame for \(timeout) (the stream's timeout) after \(framesRead.counting("frame")): the stream stalled"
        case let .encodingFailed(path, framesWritten, details):
            let (reason, said) = Self.split(details)
            return "\(path): encoding failed after \(framesWritten.counting("frame"))\(reason); "
                + "no output was written\(said)"
        case let .frameSizeMismatch(expectedWidth, expectedHeight, foundWidth, foundHeight):
            return "expected a \(expectedWidth)x\(expectedHeight) frame, found \(foundWidth)x\(foundHeight)"
        case let .invalidArgument(name, expected, found):
            return "\(name): expected \(expected), found \(found)"
        case let .outputFailed(path, reason):
            return "\(path): \(reason)"
        case let .cancelled(path):
            return "\(path): cancelled; the partial output was removed"
        }
    }

    /// `details` as the decoder and encoder write them, emovere's own reason on the first line and then what ffmpeg
    /// said: `" (reason)"` and `tail` of the rest, so emovere's words never appear under "ffmpeg said".
    private static func split(_ details: String) -> (reason: String, said: String) {
        let reason = details.prefix { $0 != "\n" }
        return (reason.isEmpty ? "" : " (\(reason))", tail(String(details.dropFirst(reason.count))))
    }

    /// `"; ffmpeg said: ..."` with the captured stderr lines, or nothing when there were none.
    private static func tail(_ details: String) -> String {
        let trimmed = details.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? "" : "; ffmpeg said:\n" + trimmed
    }
}
