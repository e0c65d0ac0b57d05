import Emovere
import EmovereData
import EmovereReport
import EmovereVision
import Testing

struct FaceTrackerTests {
    @Test func movingFaceKeepsItsTrack() {
        var tracker = FaceTracker()
        var identifiers: [Int] = []
        for frame in 0..<20 {
            identifiers += tracker.update(detections: [Rect(x: 10 + frame * 4, y: 20, width: 50, height: 50)], frame: frame)
        }
        #expect(identifiers == [Int](repeating: 1, count: 20))
    }

    @Test func twoFacesKeepTheirTracksWhateverTheDetectionOrder() {
        var tracker = FaceTracker()
        let left = Rect(x: 10, y: 10, width: 40, height: 40), right = Rect(x: 200, y: 10, width: 40, height: 40)
        #expect(tracker.update(detections: [left, right], frame: 0) == [1, 2])
        let movedLeft = Rect(x: 14, y: 12, width: 40, height: 40), movedRight = Rect(x: 196, y: 8, width: 42, height: 42)
        #expect(tracker.update(detections: [movedRight, movedLeft], frame: 1) == [2, 1])
    }

    @Test func fastFaceWithoutOverlapFallsBackToCentreDistance() {
        var tracker = FaceTracker(settings: .init(minimumOverlap: 0.3, maximumCentreDistance: 0.6))
        #expect(tracker.update(detections: [Rect(x: 0, y: 0, width: 50, height: 50)], frame: 0) == [1])
        // Moved 28 px: IoU 0.28 (below 0.3) but centre distance 28/50 = 0.56 of the side.
        #expect(tracker.update(detections: [Rect(x: 28, y: 0, width: 50, height: 50)], frame: 1) == [1])
        // Moved a whole box width: a new face.
        #expect(tracker.update(detections: [Rect(x: 90, y: 0, width: 50, height: 50)], frame: 2) == [2])
    }

    @Test func missedFramesAreRememberedForAWhile() {
        var tracker = FaceTracker(settings: .init(maximumMissedFrames: 3))
        let box = Rect(x: 50, y: 50, width: 60, height: 60)
        #expect(tracker.update(detections: [box], frame: 0) == [1])
        #expect(tracker.update(detections: [], frame: 1).isEmpty)
        #expect(tracker.update(detections: [], frame: 2).isEmpty)
        #expect(tracker.update(detections: [box], frame: 3) == [1], "2 missed frames are within memory")
        // Frames a live source dropped were never looked at: 97 frame numbers later the face is still the same one.
        #expect(tracker.update(detections: [box], frame: 100) == [1])
        for frame in 101...104 { #expect(tracker.update(detections: [], frame: frame).isEmpty) }
        #expect(tracker.update(detections: [box], frame: 105) == [2], "4 frames looked at without the face: a new track")
        #expect(tracker.tracksSeen(at: 105).map(\.identifier) == [2])
    }

    @Test func smoothingIsAnExponentialMovingAveragePerTrack() {
        var smoother = ProbabilitySmoother(alpha: 0.5)
        #expect(smoother.smooth(track: 1, probabilities: [1, 0]) == [1, 0])
        #expect(smoother.smooth(track: 2, probabilities: [0, 1]) == [0, 1])
        #expect(smoother.smooth(track: 1, probabilities: [0, 1]) == [0.5, 0.5])
        #expect(smoother.smooth(track: 1, probabilities: [0, 1]) == [0.25, 0.75])
        #expect(smoother.smooth(track: 2, probabilities: [0, 1]) == [0, 1])
        smoother.keep(only: [2])
        #expect(smoother.smooth(track: 1, probabilities: [0, 1]) == [0, 1], "a forgotten track starts afresh")

        var off = ProbabilitySmoother(alpha: 1)
        #expect(!off.isEnabled)
        _ = off.smooth(track: 1, probabilities: [1, 0])
        #expect(off.smooth(track: 1, probabilities: [0.2, 0.8]) == [0.2, 0.8], "alpha 1 gives the exact values")
    }

    @Test func trackSummaryPicksTheDominantEmotion() {
        var summary = TrackSummary(track: 3, firstFrame: 5)
        var happy = [Float](repeating: 0, count: 7)
        happy[Emotion.happy.rawValue] = 0.9
        happy[Emotion.neutral.rawValue] = 0.1
        var neutral = [Float](repeating: 0, count: 7)
        neutral[Emotion.neutral.rawValue] = 0.6
        neutral[Emotion.happy.rawValue] = 0.4
        summary.add(TrackedFaceEmotion(track: 3, box: Rect(x: 0, y: 0, width: 1, height: 1), probabilities: happy, detected: true), frame: 5)
        summary.add(TrackedFaceEmotion(track: 3, box: Rect(x: 0, y: 0, width: 1, height: 1), probabilities: neutral, detected: true), frame: 6)
        summary.add(TrackedFaceEmotion(track: 3, box: Rect(x: 0, y: 0, width: 1, height: 1), probabilities: neutral, detected: false), frame: 9)
        #expect(summary.frames == 3 && summary.firstFrame == 5 && summary.lastFrame == 9)
        // Mean happy (0.9 + 0.4 + 0.4) / 3 = 0.567 beats neutral (0.1 + 0.6 + 0.6) / 3 = 0.433.
        #expect(summary.dominantEmotion == .happy)
        #expect(abs(summary.dominantShare - 1.0 / 3) < 1e-9)
    }
}

struct EmotionTimelineTests {
    @Test func memoryStaysBoundedAndMeansArePreserved() {
        var timeline = EmotionTimeline(frameRate: 10, capacity: 8)
        for frame in 0..<100 {
            let value = Float(frame % 2)
            timeline.add(track: 1, time: Double(frame) / 10, probabilities: [value, 1 - value, 0, 0, 0, 0, 0])
        }
        let points = timeline.points(track: 1)
        #expect(points.count <= 8 && points.count >= 4, "\(points.count) points")
        #expect(points.map(\.frames).reduce(0, +) == 100)
        // Bins hold whole pairs of alternating frames, so each mean is one half.
        for point in points.dropLast() { #expect(abs(point.probabilities[0] - 0.5) < 1e-9) }
        #expect(zip(points, points.dropFirst()).allSatisfy { $0.time < $1.time })
    }

    /// Tracks too short to fill the bins alone (faces turning away, a crowd): the width still follows the video's
    /// length, so each takes a bin or two, not one per frame (a long video's timeline grew by a bin per face-frame).
    @Test func manyShortTracksTakeAFewBinsEach() {
        var timeline = EmotionTimeline(frameRate: 10, capacity: 16)
        for frame in 0..<10_000 {
            timeline.add(track: frame / 10, time: Double(frame) / 10, probabilities: [1, 0, 0, 0, 0, 0, 0])
        }
        let points = timeline.tracks.map { timeline.points(track: $0) }
        #expect(points.count == 1000)
        #expect(points.allSatisfy { $0.count <= 2 }, "\(points.map(\.count).max() ?? 0) points in a track")
        #expect(points.joined().map(\.frames).reduce(0, +) == 10_000)
    }

    @Test func gapsSplitTheLines() {
        var timeline = EmotionTimeline(frameRate: 10)
        let probabilities: [Float] = [0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1]
        for frame in [0, 1, 2, 10, 11] { timeline.add(track: 4, time: Double(frame) / 10, probabilities: probabilities) }
        #expect(timeline.tracks == [4])
        #expect(timeline.areContiguous(track: 4, 0, 1) && timeline.areContiguous(track: 4, 1, 2))
        #expect(!timeline.areContiguous(track: 4, 2, 3))

        var summary = TrackSummary(track: 4, firstFrame: 0)
        summary.add(TrackedFaceEmotion(track: 4, box: Rect(x: 0, y: 0, width: 1, height: 1), probabilities: probabilities, detected: true), frame: 0)
        let svg = TimelinePlot.svg(timeline: timeline, summaries: [4: summary], duration: 1.2, title: "a<b>.mp4")
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.contains("a&lt;b&gt;.mp4"), "titles are escaped")
        // Characters XML allows nowhere (a file name may hold them) are written out: the document stays well-formed.
        let control = TimelinePlot.svg(timeline: timeline, summaries: [4: summary], duration: 1.2, title: "a\u{1}b\u{FFFF}.mp4")
        #expect(control.contains("a\\u{1}b\u{FFFD}.mp4") && !control.unicodeScalars.contains { $0.value == 1 || $0.value == 0xFFFF })
        #expect(svg.contains("track 4: happy"))
        // Two segments per emotion: 7 emotions x 2 polylines.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 14)
    }

    @Test func emptyTimelineSaysSo() {
        let svg = TimelinePlot.svg(timeline: EmotionTimeline(frameRate: 25), summaries: [:], duration: 2, title: "empty")
        #expect(svg.contains("no faces found"))
    }
}
