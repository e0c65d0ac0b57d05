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

    /// Creates a record.
    public init(track: Int, box: Rect, probabilities: [Float], detected: Bool) {
        self.track = track
        self.box = box
        self.probabilities = probabilities
        self.detected = detected
    }

    /// The most probable emotion.
    public var emotion: Emotion {
        Emotion(rawValue: probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0) ?? .neutral
    }

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
        /// Track matching settings.
        public var tracking: FaceTracker.Settings

        /// Creates settings; by default every frame is searched and nothing is smoothed.
        public init(detectionInterval: Int = 1, smoothing: Float = 1, followBetweenDetections: Bool = true,
                    tracking: FaceTracker.Settings = FaceTracker.Settings()) {
            self.detectionInterval = detectionInterval
            self.smoothing = smoothing
            self.followBetweenDetections = followBetweenDetections
            self.tracking = tracking
        }
    }

    /// The recognizer that detects and classifies.
    public let recognizer: EmotionRecognizer
    /// The settings in use.
    public let settings: Settings
    /// Per-track statistics of the frames processed so far, by track number.
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
        self.tracker = FaceTracker(settings: settings.tracking)
        self.smoother = ProbabilitySmoother(alpha: settings.smoothing)
    }

    /// The faces of frame number `index` (frames in increasing order) and their emotions.
    public func process(_ frame: GrayImage, index: Int) -> [TrackedFaceEmotion] {
        let boxes: [Rect]
        let identifiers: [Int]
        let detected: Bool
        if let last = lastDetectionFrame, index - last < settings.detectionInterval {
            // Follow the faces of the previous frame.
            boxes = previous.map { settings.followBetweenDetections ? follow($0.box, in: frame) ?? $0.box : $0.box }
            identifiers = tracker.update(detections: boxes, frame: index)
            detected = false
        } else {
            boxes = recognizer.detector.detect(in: frame, parameters: recognizer.detection)
            identifiers = tracker.update(detections: boxes, frame: index)
            lastDetectionFrame = index
            detected = true
        }
        let classified = boxes.isEmpty ? [] : recognizer.classify(faces: boxes, in: frame)
        var faces: [TrackedFaceEmotion] = []
        faces.reserveCapacity(boxes.count)
        for (face, identifier) in zip(classified, identifiers) {
            let probabilities = smoother.smooth(track: identifier, probabilities: face.probabilities)
            let tracked = TrackedFaceEmotion(track: identifier, box: face.box, probabilities: probabilities, detected: detected)
            summaries[identifier, default: TrackSummary(track: identifier, firstFrame: index)].add(tracked, frame: index)
            faces.append(tracked)
        }
        smoother.keep(only: Set(tracker.tracks.map(\.identifier)))
        previous = faces
        return faces
    }

    /// The face near `box` in `frame`: a detection on the box's neighbourhood (the box grown by half its size on
    /// every side) for sizes from 2/3 to 3/2 of it, the candidate closest to the box; nil when none is found.
    private func follow(_ box: Rect, in frame: GrayImage) -> Rect? {
        let region = box.expanded(byFraction: 0.5).clamped(toWidth: frame.width, height: frame.height)
        guard !region.isEmpty else { return nil }
        let side = max(box.width, box.height)
        let parameters: FaceDetector.DetectionParameters
        do {
            parameters = try FaceDetector.DetectionParameters(
                scaleFactor: recognizer.detection.scaleFactor,
                minimumNeighbors: recognizer.detection.minimumNeighbors,
                minimumSize: FaceDetector.WindowSize(width: side * 2 / 3, height: side * 2 / 3),
                maximumSize: FaceDetector.WindowSize(width: side * 3 / 2, height: side * 3 / 2))
        } catch {
            // Only reachable with sizes derived from a valid box, which are never negative.
            return nil
        }
        let found = recognizer.detector.detect(in: frame.cropped(to: region), parameters: parameters)
        let local = Rect(x: box.x - region.x, y: box.y - region.y, width: box.width, height: box.height)
        guard let best = found.min(by: { FaceTracker.centreDistance($0, local) < FaceTracker.centreDistance($1, local) })
        else { return nil }
        return Rect(x: best.x + region.x, y: best.y + region.y, width: best.width, height: best.height)
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
    public var dominantEmotion: Emotion {
        let means = meanProbabilities
        return Emotion(rawValue: means.indices.max { means[$0] < means[$1] } ?? 0) ?? .neutral
    }

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
