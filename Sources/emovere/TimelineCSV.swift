import Emovere
import EmovereData
import Foundation

/// The CSV timeline: one row per frame per face.
enum TimelineCSV {
    static let header = (["time", "frame", "track", "x", "y", "width", "height"] + Emotion.allCases.map(\.name) + ["emotion"])
        .joined(separator: ",")

    static func rows(frame: Int, time: Double, faces: [TrackedFaceEmotion]) -> String {
        var text = ""
        for face in faces {
            text += String(format: "%.3f", time) + ",\(frame),\(face.track),\(face.box.x),\(face.box.y),\(face.box.width),\(face.box.height)"
            for probability in face.probabilities { text += String(format: ",%.4f", probability) }
            text += ",\(face.emotion.name)\n"
        }
        return text
    }
}
