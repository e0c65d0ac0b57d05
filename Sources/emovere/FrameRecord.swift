import Emovere

/// One frame of the JSON output (and one line of `live`).
struct FrameRecord: Encodable {
    var frame: Int
    var time: Double
    var faces: [FaceRecord]
    var latencyMilliseconds: Double?

    init(frame: Int, time: Double, faces: [TrackedFaceEmotion], latencyMilliseconds: Double? = nil) {
        self.frame = frame
        self.time = (time * 1000).rounded() / 1000
        self.latencyMilliseconds = latencyMilliseconds.map { ($0 * 10).rounded() / 10 }
        self.faces = faces.map { FaceRecord($0) }
    }
}
