import Emovere
import EmovereCore
import EmovereData
import Foundation

/// The end-of-run summary: text and JSON.
struct RunSummary {
    struct TrackRecord: Encodable {
        var track: Int
        var firstTime: Double
        var lastTime: Double
        var frames: Int
        var dominantEmotion: String
        var dominantShare: Double
        var meanProbabilities: [String: Double]
    }

    struct Record: Encodable {
        var frames: Int
        var duration: Double
        var faces: Int
        var framesWithFaces: Int
        var tracks: Int
        var seconds: Double
        var framesPerSecond: Double
        /// Why the video stopped before its end (a truncated or damaged file), if it did.
        var brokenOff: String?
    }

    var frames: Int
    var duration: Double
    var frameRate: Double
    var faces: Int
    var framesWithFaces: Int
    var seconds: Double
    var summaries: [Int: TrackSummary]
    var brokenOff: String?

    var framesPerSecond: Double { seconds > 0 ? Double(frames) / seconds : 0 }

    var trackRecords: [TrackRecord] {
        summaries.values.sorted { $0.track < $1.track }.map { summary in
            TrackRecord(track: summary.track, firstTime: Double(summary.firstFrame) / frameRate,
                        lastTime: Double(summary.lastFrame) / frameRate, frames: summary.frames,
                        dominantEmotion: summary.dominantEmotion.name, dominantShare: summary.dominantShare,
                        meanProbabilities: Emotion.byName(summary.meanProbabilities))
        }
    }

    var record: Record {
        Record(frames: frames, duration: duration, faces: faces, framesWithFaces: framesWithFaces,
               tracks: summaries.count, seconds: seconds, framesPerSecond: framesPerSecond, brokenOff: brokenOff)
    }

    func text(input: String) -> String {
        var lines = [String(format: "%@: %@, %.2f s; %@ in %@, %@", input, frames.counting("frame"), duration,
                            faces.counting("face"), framesWithFaces.counting("frame"), summaries.count.counting("track"))]
        for track in trackRecords {
            lines.append(String(format: "  track %d: %.2f-%.2f s, %@, dominant %@ (mean %.2f, top in %.0f%% of frames)",
                                track.track, track.firstTime, track.lastTime, track.frames.counting("frame"),
                                track.dominantEmotion, track.meanProbabilities[track.dominantEmotion] ?? 0,
                                track.dominantShare * 100))
        }
        lines.append(String(format: "processed %@ in %.2f s: %.1f frames/s", frames.counting("frame"), seconds, framesPerSecond))
        if let brokenOff {
            lines.append("stopped after frame \(frames - 1) (numbered from 0), before the end of the video: \(brokenOff)")
        }
        return lines.joined(separator: "\n")
    }
}
