import EmovereData
import EmovereVision

/// The JSON form of one tracked face, shared by `video --json`, `live` and the server's stream replies:
/// `track`, `box`, `emotion`, `confidence`, `probabilities` by class name, and `detected` when known.
public struct TrackedFaceRecord: Encodable, Sendable, Equatable {
    public var track: Int
    public var box: Rect
    public var emotion: String
    public var confidence: Float
    public var probabilities: [String: Float]
    /// Whether a full-frame detection found the box on this frame; left out of the JSON when nil.
    public var detected: Bool?

    /// A record from the face's track, box and probabilities in `Emotion` order.
    public init(track: Int, box: Rect, probabilities: [Float], detected: Bool? = nil) {
        let top = probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0
        self.track = track
        self.box = box
        emotion = (Emotion(rawValue: top) ?? .neutral).name
        confidence = probabilities.isEmpty ? 0 : probabilities[top]
        self.probabilities = Emotion.byName(probabilities)
        self.detected = detected
    }

    /// The record of a face followed through a video.
    public init(_ face: TrackedFaceEmotion) {
        self.init(track: face.track, box: face.box, probabilities: face.probabilities, detected: face.detected)
    }
}
