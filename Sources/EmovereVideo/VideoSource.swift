/// Where frames come from: a file (anything ffmpeg reads) or a V4L2 capture device.
public enum VideoSource: Sendable, Equatable, CustomStringConvertible {
    /// A video file.
    case file(String)
    /// A Video4Linux2 capture device such as `/dev/video0`, with an optional requested size and rate.
    case camera(device: String, width: Int? = nil, height: Int? = nil, frameRate: Double? = nil)

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
            var arguments = ["-f", "v4l2"]
            if let frameRate { arguments += ["-framerate", String(frameRate)] }
            if let width, let height { arguments += ["-video_size", "\(width)x\(height)"] }
            return arguments + ["-i", device]
        }
    }
}
