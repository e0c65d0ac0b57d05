import EmovereData
import EmovereVision

/// The JSON form of one recognised face, shared by `analyze --json`, `explain`, `video --json`, `live` and the
/// server: `box`, `emotion`, `confidence`, `probabilities` by class name, and where the source has them, the
/// detector's `detectionScore` and `landmarks`, the video `track` and whether the face was `detected` on this frame,
/// and the emotion `explain` explained. Absent fields are left out of the JSON.
public struct FaceRecord: Codable, Sendable, Equatable {
    public var track: Int?
    public var box: Rect
    public var emotion: String
    public var confidence: Float
    public var probabilities: [String: Float]
    /// Whether a full-frame detection found the box on this frame (video).
    public var detected: Bool?
    /// The detector's confidence (YuNet).
    public var detectionScore: Float?
    /// The five facial landmarks (YuNet).
    public var landmarks: FaceLandmarks?
    /// The emotion `emovere explain` explained.
    public var explained: String?

    /// A record from a box and probabilities in `Emotion` order.
    public init(track: Int? = nil, box: Rect, probabilities: [Float], detected: Bool? = nil,
                detectionScore: Float? = nil, landmarks: FaceLandmarks? = nil, explained: Emotion? = nil) {
        self.track = track
        self.box = box
        emotion = Emotion.mostProbable(probabilities).name
        confidence = probabilities.max() ?? 0
        self.probabilities = Emotion.byName(probabilities)
        self.detected = detected
        self.detectionScore = detectionScore
        self.landmarks = landmarks
        self.explained = explained?.name
    }

    /// The record of a face in a photo.
    public init(_ face: FaceEmotion, explained: Emotion? = nil) {
        self.init(box: face.box, probabilities: face.probabilities, detectionScore: face.detectionScore,
                  landmarks: face.landmarks, explained: explained)
    }

    /// The record of a face followed through a video.
    public init(_ face: TrackedFaceEmotion) {
        self.init(track: face.track, box: face.box, probabilities: face.probabilities, detected: face.detected,
                  landmarks: face.landmarks)
    }

    /// `#<number> box x,y WxH: emotion (the three most probable with their probabilities)`, indented.
    public func line(number: Int) -> String {
        let top = probabilities.sorted { $0.value > $1.value }.prefix(3)
            .map { "\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", ")
        return "  #\(number) box \(box.x),\(box.y) \(box.width)x\(box.height): \(emotion) (\(top))"
    }
}
