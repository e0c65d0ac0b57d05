import Foundation

/// What ffprobe says about a video: the first video stream's size and timing, and whether there is audio.
public struct VideoInfo: Sendable, Equatable, Codable {
    /// Frame width in pixels, after the display rotation (ffmpeg rotates frames upright when decoding) and, for
    /// non-square pixels, stretched by the sample aspect ratio (as players show it).
    public var width: Int
    /// Frame height in pixels, after the display rotation.
    public var height: Int
    /// Frames per second (ffprobe's `avg_frame_rate`, or `r_frame_rate` when that is missing or zero).
    public var frameRate: Double
    /// The frame rate as ffprobe wrote it, e.g. `30000/1001`, used to encode at exactly the same rate.
    public var frameRateText: String
    /// The number of frames: the container's count when it has one, otherwise `duration * frameRate` rounded;
    /// nil for live sources and streams without a duration.
    public var frameCount: Int?
    /// Whether `frameCount` is an estimate from the duration rather than the container's own count.
    public var frameCountIsEstimate: Bool
    /// Duration in seconds, nil when unknown (live sources).
    public var duration: Double?
    /// Whether the input has at least one audio stream.
    public var hasAudio: Bool
    /// Whether the video stream is the input's only stream (no audio, subtitles or data).
    public var isVideoOnly: Bool
    /// Whether `duration` is the video stream's own (its duration, or Matroska's `DURATION` tag) or the input has no
    /// other stream, rather than the container's, which may be a longer audio track's.
    public var durationIsTheVideoStreams: Bool
    /// The video codec's short name, e.g. `h264`.
    public var codec: String
    /// The probed stream's index in the input (ffprobe's `index`), the stream `VideoReader` decodes; nil: the first
    /// video stream. A cover picture stored as a video stream before the film is skipped this way.
    public var streamIndex: Int?

    /// Creates a description by hand (for sources that cannot be probed).
    public init(width: Int, height: Int, frameRate: Double, frameRateText: String? = nil, frameCount: Int? = nil,
                frameCountIsEstimate: Bool = false, duration: Double? = nil, hasAudio: Bool = false,
                codec: String = "rawvideo", streamIndex: Int? = nil) {
        self.width = width
        self.height = height
        self.frameRate = frameRate
        self.frameRateText = frameRateText ?? String(frameRate)
        self.frameCount = frameCount
        self.frameCountIsEstimate = frameCountIsEstimate
        self.duration = duration
        self.hasAudio = hasAudio
        self.isVideoOnly = !hasAudio
        durationIsTheVideoStreams = duration != nil
        self.codec = codec
        self.streamIndex = streamIndex
    }

    /// The most pixels a side of a frame may have (as a JPEG's).
    public static let maximumSide = 65_535
    /// The most pixels a frame may have (as a photo's, by default).
    public static let maximumFramePixels = 100_000_000
    /// The highest frame rate decoded (high-speed cameras record 1,000 frames/s; a time base reads 90,000).
    public static let maximumFrameRate: Double = 1000

    /// The bytes of one `rgb24` frame.
    public var frameByteCount: Int { width * height * 3 }

    /// Probes `source` with ffprobe (`-show_streams -show_format`, JSON output); `cancellation` stops it.
    /// - Throws: ``VideoError/missingInput(path:)`` for a missing file, ``VideoError/unreadableInput(path:details:)``
    ///   with ffprobe's message when it cannot read it, ``VideoError/noVideoStream(path:)`` for a file without
    ///   video and ``VideoError/invalidStreamProperties(path:expected:found:)`` for a stream without size or rate.
    public static func probe(_ source: VideoSource, tools: FFmpegTools, cancellation: VideoCancellation? = nil)
        throws(VideoError) -> VideoInfo {
        if case .file(let path) = source {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw .missingInput(path: path)
            }
            if isDirectory.boolValue {
                throw .invalidArgument(name: path, expected: "a video file", found: "a folder")
            }
            // A pipe would be read twice, by the probe and by the decoder, and the probe waits for a writer.
            var status = stat()
            if stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFIFO || status.st_mode & S_IFMT == S_IFSOCK {
                throw .invalidArgument(name: path, expected: "a video file",
                                       found: "a pipe, which emovere cannot read twice (to probe it, then to decode it); save the video to a file first")
            }
        }
        let arguments = ["-hide_banner", "-v", "error", "-print_format", "json", "-show_streams", "-show_format"]
            + source.inputArguments(realTime: false)
        let result = try Subprocess.run(executable: tools.ffprobe, arguments: arguments,
                                        timeoutSeconds: source.stallTimeoutSeconds, cancellation: cancellation)
        if result.timedOut, let seconds = source.stallTimeoutSeconds {
            throw .stalled(path: source.name, seconds: seconds, framesRead: nil)
        }
        guard result.status == 0 else {
            throw .unreadableInput(path: source.name, details: source.hidingPassword(in: result.errors))
        }
        let report: ProbeReport
        do {
            report = try JSONDecoder().decode(ProbeReport.self, from: result.output)
        } catch {
            throw .unreadableInput(path: source.name, details: "ffprobe printed JSON that could not be read: \(error)")
        }
        return try VideoInfo(report: report, source: source.name)
    }

    init(report: ProbeReport, source: String) throws(VideoError) {
        let streams = report.streams ?? []
        guard let video = streams.first(where: { $0.codecType == "video" && $0.disposition?.attachedPicture != 1 })
        else { throw .noVideoStream(path: source) }
        guard let width = video.width, let height = video.height, width > 0, height > 0 else {
            throw .invalidStreamProperties(path: source, expected: "a video stream with a width and height",
                                           found: "\(video.width.map(String.init) ?? "no width") x "
                                               + "\(video.height.map(String.init) ?? "no height")")
        }
        guard width <= Self.maximumSide, height <= Self.maximumSide else {
            throw .invalidStreamProperties(path: source, expected: "frames of at most \(Self.maximumSide) pixels a side",
                                           found: "\(width) x \(height)")
        }
        // The average rate first: for variable-rate recordings (phones) `r_frame_rate` can be a multiple of it, and
        // decoding at a constant multiple would repeat frames. Both agree for constant-rate video. A rate beyond
        // `maximumFrameRate` is a time base (`90000/1`), not frames: decoding at it would repeat each frame thousands
        // of times.
        let rates = [video.averageFrameRate, video.realFrameRate].compactMap { $0 }
        let usable = { (text: String) in Self.rational(text).map { $0 > 0 && $0 <= Self.maximumFrameRate } ?? false }
        guard let rateText = rates.first(where: usable), let rate = Self.rational(rateText) else {
            throw .invalidStreamProperties(
                path: source, expected: "a frame rate above 0 and at most \(Int(Self.maximumFrameRate)) frames/s",
                found: rates.isEmpty ? "none" : rates.joined(separator: ", "))
        }
        // Non-square pixels (anamorphic video, e.g. DV or DVD) are shown stretched by the sample aspect ratio: frames
        // are decoded at that display width (the reader scales to it), so faces keep their shape.
        // A ratio beyond 1:4-4:1 (no format uses one; a damaged header can claim 65535:1) is taken as square.
        let pixelAspect = video.sampleAspectRatio.flatMap { Self.rational($0.replacingOccurrences(of: ":", with: "/")) }
            .flatMap { (0.25...4).contains($0) ? $0 : nil }
        let displayWidth = pixelAspect.map { max(1, Int((Double(width) * $0).rounded())) } ?? width
        // A damaged or crafted header can claim any size: each frame would take width x height x 3 bytes.
        guard displayWidth <= 4 * Self.maximumSide, displayWidth * height <= Self.maximumFramePixels else {
            throw .invalidStreamProperties(
                path: source, expected: "frames of at most \(Self.maximumFramePixels / 1_000_000) megapixels and \(Self.maximumSide) pixels a side",
                found: "\(displayWidth) x \(height)")
        }
        let rotation = video.rotation
        let quarterTurn = rotation % 180 == 90 || rotation % 180 == -90
        self.width = quarterTurn ? height : displayWidth
        self.height = quarterTurn ? displayWidth : height
        self.frameRate = rate
        self.frameRateText = rateText
        // A duration of more than a century is a damaged tag (Matroska's can read `inf`), not a length.
        let positive = { (value: Double?) in value.flatMap { $0 > 0 && $0 < 3e9 ? $0 : nil } }
        let streamDuration = positive(video.duration.flatMap(Double.init)) ?? positive(video.taggedDuration)
        self.duration = streamDuration ?? positive(report.format?.duration.flatMap(Double.init))
        if let frames = video.frameCount.flatMap(Int.init), frames > 0 {
            self.frameCount = frames
            self.frameCountIsEstimate = false
        } else if let duration {
            self.frameCount = max(1, Int((duration * rate).rounded()))
            self.frameCountIsEstimate = true
        } else {
            self.frameCount = nil
            self.frameCountIsEstimate = true
        }
        self.hasAudio = streams.contains { $0.codecType == "audio" }
        self.isVideoOnly = streams.count == 1
        durationIsTheVideoStreams = duration != nil && (streamDuration != nil || isVideoOnly)
        self.codec = video.codecName ?? "unknown"
        self.streamIndex = video.index
    }

    /// `"30000/1001"` as 29.97; nil for malformed or zero denominators.
    static func rational(_ text: String) -> Double? {
        let parts = text.split(separator: "/")
        guard let numerator = parts.first.flatMap({ Double($0) }) else { return nil }
        guard parts.count == 2 else { return parts.count == 1 ? numerator : nil }
        guard let denominator = Double(parts[1]), denominator != 0 else { return nil }
        return numerator / denominator
    }
}

/// The parts of ffprobe's JSON report that Emovere reads.
struct ProbeReport: Decodable {
    struct Stream: Decodable {
        struct Disposition: Decodable {
            var attachedPicture: Int?
            enum CodingKeys: String, CodingKey { case attachedPicture = "attached_pic" }
        }
        struct SideData: Decodable {
            var rotation: Double?
        }
        var index: Int?
        var codecType: String?
        var codecName: String?
        var width: Int?
        var height: Int?
        var realFrameRate: String?
        var averageFrameRate: String?
        var duration: String?
        var frameCount: String?
        /// The shape of a pixel, e.g. `"1:1"`, `"2:1"`; `"0:1"` or absent when unknown (square is assumed).
        var sampleAspectRatio: String?
        var tags: [String: String]?
        var sideData: [SideData]?
        var disposition: Disposition?

        enum CodingKeys: String, CodingKey {
            case index, codecType = "codec_type", codecName = "codec_name", width, height
            case realFrameRate = "r_frame_rate", averageFrameRate = "avg_frame_rate", duration
            case frameCount = "nb_frames", sampleAspectRatio = "sample_aspect_ratio", tags
            case sideData = "side_data_list", disposition
        }

        /// Matroska's per-stream `DURATION` tag (`"00:00:20.020000000"`) in seconds, nil when absent or malformed.
        var taggedDuration: Double? {
            guard let text = tags?.first(where: { $0.key.uppercased().hasPrefix("DURATION") })?.value else { return nil }
            let parts = text.split(separator: ":").map { Double($0) }
            guard parts.count == 3, let hours = parts[0], let minutes = parts[1], let seconds = parts[2] else { return nil }
            return hours * 3600 + minutes * 60 + seconds
        }

        /// The display rotation in degrees (side data, or the older `rotate` tag), 0 when none.
        var rotation: Int {
            // Finite and within a turn or so (a display matrix gives -180...180); anything else is damage.
            if let value = sideData?.compactMap(\.rotation).first { return abs(value) <= 720 ? Int(value.rounded()) : 0 }
            if let value = tags?["rotate"].flatMap(Int.init) { return value }
            return 0
        }
    }
    struct Format: Decodable {
        var duration: String?
    }
    var streams: [Stream]?
    var format: Format?
}
