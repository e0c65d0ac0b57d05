import EmovereCore

/// Where frames come from: a file (anything ffmpeg reads), one on a web or FTP server, a capture device (Video4Linux2
/// on Linux, AVFoundation on macOS) or a network stream (an IP camera).
public enum VideoSource: Sendable, Equatable, CustomStringConvertible {
    /// A video file.
    case file(String)
    /// A video file on a server (`http`, `https` or `ftp`), read as ffmpeg downloads it. A file, not live: its frames
    /// come at a constant rate, as a local file's. A connection that sends nothing for `timeoutSeconds` fails.
    case remoteFile(url: String, timeoutSeconds: Double = 30)
    /// A capture device (`/dev/video0` on Linux, an AVFoundation device index or name such as `0` on macOS), with an
    /// optional requested size and rate.
    case camera(device: String, width: Int? = nil, height: Int? = nil, frameRate: Double? = nil)
    /// A network stream, e.g. an IP camera's `rtsp://user:password@camera/stream` (RTSP over TCP), or `http(s)`,
    /// `rtmp(s)`, `srt`, `udp` or `tcp`. Live: frames are read as they come, at the stream's own timing. A probe or
    /// read that gets no answer, or no frame, for `timeoutSeconds` fails instead of waiting for ever.
    case stream(url: String, timeoutSeconds: Double = 10)

    /// The URL schemes a ``stream(url:timeoutSeconds:)`` may use.
    public static let streamSchemes = ["rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "srt", "udp", "tcp"]

    /// The URL schemes a ``remoteFile(url:timeoutSeconds:)`` may use.
    public static let remoteFileSchemes = ["http", "https", "ftp"]

    /// `input` as a source to read a recording from: a ``remoteFile(url:timeoutSeconds:)`` for an `http`, `https` or
    /// `ftp` URL, else a ``file(_:)``.
    public static func recording(_ input: String) -> VideoSource {
        remoteFileSchemes.contains(scheme(of: input) ?? "") ? .remoteFile(url: input) : .file(input)
    }

    /// The scheme of `input` in lower case when it has the form `scheme://...`, else nil (a path).
    public static func scheme(of input: String) -> String? { RemoteAddress.scheme(of: input) }

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

    /// The path, device or URL (its password hidden), for messages.
    public var name: String {
        switch self {
        case .file(let path): path
        case .camera(let device, _, _, _): device
        case .stream(let url, _), .remoteFile(let url, _): RemoteAddress.hidingPassword(in: url)
        }
    }

    /// The URL of a stream or remote file, nil for files and cameras.
    var url: String? {
        switch self {
        case .stream(let url, _), .remoteFile(let url, _): url
        case .file, .camera: nil
        }
    }

    public var description: String { name }

    /// Whether the source is live (a camera or a stream): it has no known length and comes at its own pace.
    public var isLive: Bool {
        switch self {
        case .file, .remoteFile: false
        case .camera, .stream: true
        }
    }

    /// The longest a probe of the source, or the wait for its next frame, may take: a stream's timeout, nil for files
    /// and cameras (which end or fail on their own).
    public var stallTimeoutSeconds: Double? {
        if case let .stream(_, timeoutSeconds) = self { return timeoutSeconds }
        return nil
    }

    /// Why `url` cannot be a stream's (nil when it can): it must start with one of ``streamSchemes`` and `://`.
    public static func problem(withStreamURL url: String) -> String? {
        guard let range = url.range(of: "://"), !url[range.upperBound...].isEmpty else {
            return "expected a URL such as rtsp://camera/stream"
        }
        let scheme = url[..<range.lowerBound].lowercased()
        return streamSchemes.contains(scheme)
            ? nil : "expected a URL of \(streamSchemes.joined(separator: ", ")), found the scheme '\(scheme)'"
    }

    /// `text` (ffmpeg's messages) with a stream's password hidden wherever its URL's user information appears.
    func hidingPassword(in text: String) -> String {
        guard let url else { return text }
        return RemoteAddress.hidingPassword(of: url, in: text)
    }

    /// The ffmpeg/ffprobe input options, ending with `-i INPUT`. `realTime` reads a file at its native frame
    /// rate (`-re`), as a camera would deliver it.
    func inputArguments(realTime: Bool) -> [String] {
        switch self {
        case .file(let path):
            // `file:` keeps names with a colon or a leading dash from being read as protocols or options.
            return (realTime ? ["-re"] : []) + ["-i", "file:" + path]
        case let .remoteFile(url, timeoutSeconds):
            // ffmpeg's own read timeout (microseconds) bounds a stalled download, as a file's reader has no timer.
            return (realTime ? ["-re"] : []) + ["-rw_timeout", String(Int(timeoutSeconds * 1_000_000)),
                                                "-i", Self.lowercasingScheme(of: url)]
        case let .camera(device, width, height, frameRate):
            var arguments = ["-f", Self.captureFormat]
            if let frameRate = frameRate ?? Self.defaultCaptureRate { arguments += ["-framerate", String(frameRate)] }
            if let width, let height { arguments += ["-video_size", "\(width)x\(height)"] }
            return arguments + ["-i", device]
        case let .stream(url, _):
            // RTSP over TCP: whole frames through NAT and firewalls, where UDP loses packets (smeared frames) or
            // never arrives. Stalls are bounded by the reader's own timer, the same for every protocol and version.
            // One second of the stream tells its format (ffmpeg's default of five delays a live start by the probe's
            // five and the decoder's five).
            let scheme = url.prefix { $0 != ":" }.lowercased()
            return (scheme.hasPrefix("rtsp") ? ["-rtsp_transport", "tcp"] : [])
                + ["-analyzeduration", "1000000", "-i", Self.lowercasingScheme(of: url)]
        }
    }

    /// `url` with its scheme in lower case: ffmpeg finds protocols by their exact lower-case names (`HTTPS://` is
    /// "Protocol not found"), while URL schemes are case-insensitive.
    static func lowercasingScheme(of url: String) -> String {
        guard let scheme = scheme(of: url) else { return url }
        return scheme + url.dropFirst(scheme.count)
    }

    /// Whether ffmpeg's `messages` about a remote file say its download failed part-way: a read that timed out, a
    /// connection reset, or an answer shorter than the length the server announced. ffmpeg exits 0 after each.
    /// (The end of an answer without a length is reported as an input/output error, also when it was whole; its
    /// "should be" is then 2^64 - 1.)
    func downloadFailed(messages: String) -> Bool {
        guard case .remoteFile = self else { return false }
        if ["timed out", "reset by peer"].contains(where: messages.contains) { return true }
        return messages.contains("Stream ends prematurely") && !messages.contains("should be 18446744073709551615")
    }
}
