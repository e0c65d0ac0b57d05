import EmovereData
import EmovereVision

/// One face in one video frame: its track, box and (possibly smoothed) emotion probabilities.
public struct TrackedFaceEmotion: Sendable, Equatable {
    /// The track's number, stable across frames (from 1).
    public var track: Int
    /// The face box in the frame's pixels.
    public var box: Rect
    /// Probabilities in `Emotion` order; smoothed over the track when smoothing is on.
    public var probabilities: [Float]
    /// Whether the box comes from a full-frame detection on this frame (false: followed from an earlier one).
    public var detected: Bool
    /// The five facial landmarks, where the detector gives them.
    public var landmarks: FaceLandmarks?

    /// Creates a record.
    public init(track: Int, box: Rect, probabilities: [Float], detected: Bool, landmarks: FaceLandmarks? = nil) {
        self.track = track
        self.box = box
        self.probabilities = probabilities
        self.detected = detected
        self.landmarks = landmarks
    }

    /// The most probable emotion.
    public var emotion: Emotion { Emotion.mostProbable(probabilities) }

    /// The probability of `emotion`.
    public var confidence: Float { probabilities.max() ?? 0 }
}

/// Emotions of the faces of a video, frame after frame: detection (every frame or every `detectionInterval`
/// frames), tracking, classification of every tracked face on every frame, and optional smoothing per track.
///
/// Between two full-frame detections each track is followed by a detection restricted to the neighbourhood of its
/// last box and to sizes near it (much cheaper than the whole frame); when that finds nothing the last box is
/// reused.
///
/// Holds its recognizer's buffers, so one tracker serves one thread at a time.
public final class VideoEmotionTracker {
    /// Pipeline settings.
    public struct Settings: Sendable, Equatable {
        /// Run the full-frame face detector on every `detectionInterval`-th frame (1: every frame).
        public var detectionInterval: Int
        /// The weight of the newest frame in the per-track moving average, `(0, 1]`; 1 turns smoothing off.
        public var smoothing: Float
        /// Follow faces between full detections with a local search (false: reuse the last boxes as they are).
        public var followBetweenDetections: Bool
        /// Track matching settings (a track's memory is raised to at least two detection intervals).
        public var tracking: FaceTracker.Settings
        /// Keep `summaries`, one per track ever seen (false for a camera watched for days: they would only grow).
        public var keepsSummaries: Bool

        /// Creates settings; by default every frame is searched, nothing is smoothed and summaries are kept.
        public init(detectionInterval: Int = 1, smoothing: Float = 1, followBetweenDetections: Bool = true,
                    tracking: FaceTracker.Settings = FaceTracker.Settings(), keepsSummaries: Bool = true) {
            self.detectionInterval = detectionInterval
            self.smoothing = smoothing
            self.followBetweenDetections = followBetweenDetections
            self.tracking = tracking
            self.keepsSummaries = keepsSummaries
        }
    }

    /// The recognizer that detects and classifies.
    public let recognizer: EmotionRecognizer
    /// The settings in use.
    public let settings: Settings
    /// Per-track statistics of the frames processed so far, by track number (empty unless `keepsSummaries`).
    public private(set) var summaries: [Int: TrackSummary] = [:]

    private var tracker: FaceTracker
    private var smoother: ProbabilitySmoother
    private var lastDetectionFrame: Int?
    private var previous: [TrackedFaceEmotion] = []

    /// A pipeline around `recognizer`.
    /// - Throws: ``VideoAnalysisError/invalidSetting(name:expected:found:)`` for an interval below 1 or a smoothing
    ///   weight outside `(0, 1]`.
    public init(recognizer: EmotionRecognizer, settings: Settings = Settings()) throws(VideoAnalysisError) {
        guard settings.detectionInterval >= 1 else {
            throw .invalidSetting(name: "detection interval", expected: "1 or more", found: "\(settings.detectionInterval)")
        }
        guard settings.smoothing > 0, settings.smoothing <= 1 else {
            throw .invalidSetting(name: "smoothing", expected: "a weight in (0, 1], 1 meaning off", found: "\(settings.smoothing)")
        }
        self.recognizer = recognizer
        self.settings = settings
        // A face the detector misses once is followed by no box until the next detection: its track must outlive two
        // detection intervals (with --every 15, the default memory of 10 frames dropped it at every miss).
        var tracking = settings.tracking
        tracking.maximumMissedFrames = max(tracking.maximumMissedFrames, 2 * settings.detectionInterval)
        self.tracker = FaceTracker(settings: tracking)
        self.smoother = ProbabilitySmoother(alpha: settings.smoothing)
    }

    /// The faces of frame number `index` (frames in increasing order) and their emotions.
    public func process(_ frame: RGBImage, index: Int) -> [TrackedFaceEmotion] {
        process(frame, gray: frame.grayscale(), index: index)
    }

    /// The faces of a gray frame (its channels repeated for the detector).
    public func process(_ frame: GrayImage, index: Int) -> [TrackedFaceEmotion] {
        process(frame.rgb(), gray: frame, index: index)
    }

    private func process(_ frame: RGBImage, gray: GrayImage, index: Int) -> [TrackedFaceEmotion] {
        let found: [DetectedFace]
        let detected: Bool
        if let last = lastDetectionFrame, index - last < settings.detectionInterval {
            // Follow the faces of the previous frame.
            found = previous.map { face in
                let last = DetectedFace(box: face.box, landmarks: face.landmarks)
                return settings.followBetweenDetections ? follow(face.box, in: frame) ?? last : last
            }
            detected = false
        } else {
            found = recognizer.detector.detect(in: frame)
            lastDetectionFrame = index
            detected = true
        }
        let identifiers = tracker.update(detections: found.map(\.box), frame: index)
        let classified = found.isEmpty ? [] : recognizer.classify(faces: found, in: gray)
        var faces: [TrackedFaceEmotion] = []
        faces.reserveCapacity(found.count)
        for (face, identifier) in zip(classified, identifiers) {
            let probabilities = smoother.smooth(track: identifier, probabilities: face.probabilities)
            let tracked = TrackedFaceEmotion(track: identifier, box: face.box, probabilities: probabilities,
                                             detected: detected, landmarks: face.landmarks)
            if settings.keepsSummaries {
                summaries[identifier, default: TrackSummary(track: identifier, firstFrame: index)].add(tracked, frame: index)
            }
            faces.append(tracked)
        }
        smoother.keep(only: Set(tracker.tracks.map(\.identifier)))
        previous = faces
        return faces
    }

    /// The face near `box` in `frame` (the detector's local search, `FaceDetecting.detect(in:near:)`), the
    /// candidate closest to the box; nil when none is found.
    private func follow(_ box: Rect, in frame: RGBImage) -> DetectedFace? {
        recognizer.detector.detect(in: frame, near: box).min {
            FaceTracker.centreDistance($0.box, box) < FaceTracker.centreDistance($1.box, box)
        }
    }
}

/// What is known about one track after some frames.
public struct TrackSummary: Sendable, Equatable {
    /// The track's number.
    public let track: Int
    /// The first frame with this track.
    public let firstFrame: Int
    /// The last frame with this track so far.
    public private(set) var lastFrame: Int
    /// Frames where the track had a face.
    public private(set) var frames = 0
    /// The sum of the probabilities over those frames, in `Emotion` order.
    public private(set) var probabilitySums = [Double](repeating: 0, count: Emotion.count)
    /// How many frames each emotion was the top one, in `Emotion` order.
    public private(set) var topCounts = [Int](repeating: 0, count: Emotion.count)

    /// An empty summary starting at `firstFrame`.
    public init(track: Int, firstFrame: Int) {
        self.track = track
        self.firstFrame = firstFrame
        self.lastFrame = firstFrame
    }

    /// Adds one frame's face.
    public mutating func add(_ face: TrackedFaceEmotion, frame: Int) {
        frames += 1
        lastFrame = max(lastFrame, frame)
        for (index, value) in face.probabilities.prefix(Emotion.count).enumerated() { probabilitySums[index] += Double(value) }
        topCounts[face.emotion.rawValue] += 1
    }

    /// The mean probabilities over the track's frames.
    public var meanProbabilities: [Double] {
        probabilitySums.map { frames > 0 ? $0 / Double(frames) : 0 }
    }

    /// The emotion with the highest mean probability over the track.
    public var dominantEmotion: Emotion { Emotion.mostProbable(meanProbabilities.map { Float($0) }) }

    /// The share of the track's frames where the dominant emotion was the top one.
    public var dominantShare: Double {
        frames > 0 ? Double(topCounts[dominantEmotion.rawValue]) / Double(frames) : 0
    }
}

/// Why a video analysis setting was rejected.
public enum VideoAnalysisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A setting is out of range.
    case invalidSetting(name: String, expected: String, found: String)

    public var description: String {
        switch self {
        case let .invalidSetting(name, expected, found): "\(name): expected \(expected), found \(found)"
        }
    }
}
