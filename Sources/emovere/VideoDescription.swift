import EmovereVideo

/// The `video` object of the JSON output.
struct VideoDescription: Encodable {
    var path: String
    var width: Int
    var height: Int
    var frameRate: Double
    var frameCount: Int?
    var duration: Double?
    var hasAudio: Bool

    init(path: String, info: VideoInfo) {
        self.path = path
        width = info.width
        height = info.height
        frameRate = info.frameRate
        frameCount = info.frameCount
        duration = info.duration
        hasAudio = info.hasAudio
    }
}
