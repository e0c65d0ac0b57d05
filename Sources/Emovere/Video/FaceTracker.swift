import EmovereVision

/// Gives faces an identity across the frames of a video.
///
/// Each call to ``update(detections:frame:)`` matches the new boxes to the tracks still alive:
///
/// 1. Greedy intersection-over-union: every (track, box) pair with IoU at least ``Settings/minimumOverlap``,
///    best first, each track and box used once.
/// 2. Centre-distance fallback for what is left: the distance between the centres, divided by the larger side of
///    the track's box, at most ``Settings/maximumCentreDistance``, closest first. This keeps fast-moving faces
///    (no overlap between consecutive detections) on their track.
/// 3. Unmatched boxes start new tracks, numbered 1, 2, 3, ... in order of appearance; a track not matched in more
///    than ``Settings/maximumMissedFrames`` updates in a row is forgotten, and a face reappearing after that gets a
///    new number. Updates count, not frame numbers: frames a live source dropped were never looked at.
///
/// The tracker is a value type: copy it to branch, and use one copy from one thread at a time.
public struct FaceTracker: Sendable {
    /// Matching settings.
    public struct Settings: Sendable, Equatable {
        /// The least IoU for a box to continue a track in the first pass, in `0...1`.
        public var minimumOverlap: Double
        /// The largest centre distance, as a fraction of the track box's larger side, for the fallback pass.
        public var maximumCentreDistance: Double
        /// How many updates (frames looked at) in a row a track survives without a matching detection.
        public var maximumMissedFrames: Int

        /// Creates settings; the defaults suit 10-60 frames/s video.
        public init(minimumOverlap: Double = 0.3, maximumCentreDistance: Double = 0.6, maximumMissedFrames: Int = 10) {
            self.minimumOverlap = minimumOverlap
            self.maximumCentreDistance = maximumCentreDistance
            self.maximumMissedFrames = maximumMissedFrames
        }
    }

    /// A face being followed.
    public struct Track: Sendable, Equatable {
        /// The track's number, from 1.
        public let identifier: Int
        /// The last box matched to the track.
        public var box: Rect
        /// The frame of the last match.
        public var lastSeenFrame: Int
        /// The frame where the track started.
        public let firstFrame: Int
        /// The update of the last match (updates counted from 1).
        var lastSeenUpdate: Int
    }

    /// The settings in use.
    public let settings: Settings
    /// Tracks alive after the last update, oldest first.
    public private(set) var tracks: [Track] = []
    private var nextIdentifier = 1
    private var updates = 0

    /// A tracker with no tracks yet.
    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Matches the boxes detected in `frame` to the live tracks and returns, for each box in order, its track's
    /// identifier. Frames must be passed in increasing order (they need not be consecutive).
    public mutating func update(detections: [Rect], frame: Int) -> [Int] {
        updates += 1
        tracks.removeAll { updates - $0.lastSeenUpdate > settings.maximumMissedFrames }
        var trackForDetection = [Int?](repeating: nil, count: detections.count)
        var trackTaken = [Bool](repeating: false, count: tracks.count)

        // Pass 1: overlap, largest first.
        var overlaps: [(score: Double, track: Int, detection: Int)] = []
        for (trackIndex, track) in tracks.enumerated() {
            for (detectionIndex, box) in detections.enumerated() {
                let overlap = track.box.intersectionOverUnion(box)
                if overlap >= settings.minimumOverlap && overlap > 0 {
                    overlaps.append((overlap, trackIndex, detectionIndex))
                }
            }
        }
        overlaps.sort { ($0.score, -$0.track, -$0.detection) > ($1.score, -$1.track, -$1.detection) }
        for pair in overlaps where !trackTaken[pair.track] && trackForDetection[pair.detection] == nil {
            trackTaken[pair.track] = true
            trackForDetection[pair.detection] = pair.track
        }

        // Pass 2: centre distance for what is left, closest first.
        var distances: [(score: Double, track: Int, detection: Int)] = []
        for (trackIndex, track) in tracks.enumerated() where !trackTaken[trackIndex] {
            let scale = Double(max(track.box.width, track.box.height, 1))
            for (detectionIndex, box) in detections.enumerated() where trackForDetection[detectionIndex] == nil {
                let distance = Self.centreDistance(track.box, box) / scale
                if distance <= settings.maximumCentreDistance { distances.append((distance, trackIndex, detectionIndex)) }
            }
        }
        distances.sort { ($0.score, $0.track, $0.detection) < ($1.score, $1.track, $1.detection) }
        for pair in distances where !trackTaken[pair.track] && trackForDetection[pair.detection] == nil {
            trackTaken[pair.track] = true
            trackForDetection[pair.detection] = pair.track
        }

        var identifiers: [Int] = []
        identifiers.reserveCapacity(detections.count)
        for (detectionIndex, box) in detections.enumerated() {
            if let trackIndex = trackForDetection[detectionIndex] {
                tracks[trackIndex].box = box
                tracks[trackIndex].lastSeenFrame = frame
                tracks[trackIndex].lastSeenUpdate = updates
                identifiers.append(tracks[trackIndex].identifier)
            } else {
                tracks.append(Track(identifier: nextIdentifier, box: box, lastSeenFrame: frame, firstFrame: frame,
                                    lastSeenUpdate: updates))
                identifiers.append(nextIdentifier)
                nextIdentifier += 1
            }
        }
        return identifiers
    }

    /// The tracks matched at `frame` (the last update), with their boxes: what a frame between two detections
    /// reuses.
    public func tracksSeen(at frame: Int) -> [Track] {
        tracks.filter { $0.lastSeenFrame == frame }
    }

    /// The distance between the centres of two boxes, in pixels.
    public static func centreDistance(_ first: Rect, _ second: Rect) -> Double {
        let dx = Double(first.x * 2 + first.width - second.x * 2 - second.width) / 2
        let dy = Double(first.y * 2 + first.height - second.y * 2 - second.height) / 2
        return (dx * dx + dy * dy).squareRoot()
    }
}

/// Per-track exponential moving average of emotion probabilities, so labels do not flicker from frame to frame.
///
/// `smoothed = alpha * current + (1 - alpha) * previous`, started from the track's first frame. An `alpha` of 1
/// turns smoothing off: the output is exactly each frame's probabilities.
public struct ProbabilitySmoother: Sendable {
    /// The weight of the newest frame, in `(0, 1]`.
    public let alpha: Float
    private var state: [Int: [Float]] = [:]

    /// A smoother with weight `alpha` for the newest frame; `alpha` is clamped into `[0.01, 1]`.
    public init(alpha: Float = 1) {
        self.alpha = min(max(alpha, 0.01), 1)
    }

    /// Whether the output differs from the input (alpha below 1).
    public var isEnabled: Bool { alpha < 1 }

    /// The smoothed probabilities of `track` after this frame's `probabilities`.
    public mutating func smooth(track: Int, probabilities: [Float]) -> [Float] {
        guard isEnabled, let previous = state[track], previous.count == probabilities.count else {
            if isEnabled { state[track] = probabilities }
            return probabilities
        }
        var smoothed = previous
        for index in smoothed.indices {
            smoothed[index] = alpha * probabilities[index] + (1 - alpha) * previous[index]
        }
        state[track] = smoothed
        return smoothed
    }

    /// Forgets tracks that are not in `alive`.
    public mutating func keep(only alive: Set<Int>) {
        guard isEnabled else { return }
        state = state.filter { alive.contains($0.key) }
    }
}
