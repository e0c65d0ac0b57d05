/// Where frames come from: a file (anything ffmpeg reads) or a capture device (Video4Linux2 on Linux, AVFoundation on
/// macOS).
public enum VideoSource: Sendable, Equatable, CustomStringConvertible {
    /// A video file.
    case file(String)
    /// A capture device (`/dev/video0` on Linux, an AVFoundation device index or name such as `0` on macOS), with an
    /// optional requested size and rate.
    case camera(device: String, width: Int? = nil, height: Int? = nil, frameRate: Double? = nil)

    /// The camera a live run reads when none is named: `/dev/video0`, or AVFoundation's first video device on macOS.
    public static var defaultCamera: String {
        #if os(macOS)
        "0"
        #else
        "/dev/video0"
        #endif
    }

    /// ffmpeg's capture input format here, and the frame rate it asks a camera for when none is given (AVFoundation's
    /// own default, 29.97, is one most cameras refuse; nil lets V4L2 keep the camera's).
    #if os(macOS)
    static let captureFormat = "avfoundation"
    static let defaultCaptureRate: Double? = 30
    #else
    static let captureFormat = "v4l2"
    static let defaultCaptureRate: Double? = nil
    #endif

    /// The path or device, for messages.
    public var name: String {
        switch self {
        case .file(let path): path
        case .camera(let device, _, _, _): device
        }
    }

    public var description: String { name }

    /// Whether the source is live (a camera): it has no end and no known length.
    public var isLive: Bool {
        if case .camera = self { return true }
        return false
    }

    /// The ffmpeg/ffprobe input options, ending with `-i INPUT`. `realTime` reads a file at its native frame
    /// rate (`-re`), as a camera would deliver it.
    func inputArguments(realTime: Bool) -> [String] {
        switch self {
        case .file(let path):
            // `file:` keeps names with a colon or a leading dash from being read as protocols or options.
            return (realTime ? ["-re"] : []) + ["-i", "file:" + path]
        case let .camera(device, width, height, frameRate):
            var arguments = ["-f", Self.captureFormat]
            if let frameRate = frameRate ?? Self.defaultCaptureRate { arguments += ["-framerate", String(frameRate)] }
            if let width, let height { arguments += ["-video_size", "\(width)x\(height)"] }
            return arguments + ["-i", device]
        }
    }
}
