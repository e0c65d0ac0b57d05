import Emovere
import EmovereCore
import EmovereVision

/// What `emovere explain` found and wrote.
struct ExplainReport: Codable {
    var path: String
    var width: Int
    var height: Int
    /// The layer Grad-CAM weighed, e.g. `8 (Residual, 6x6x64)`.
    var layer: String
    /// The detector that found the faces.
    var detector: DetectorDescription
    var faces: [FaceRecord]
    /// Faces found but not explained: smaller than the `--max-faces` largest.
    var skippedFaces: Int
    /// The photo with heat maps.
    var output: String
    /// The panel of guided backpropagation and guided Grad-CAM, when asked for.
    var guided: String?

    var table: String {
        let skipped = skippedFaces > 0 ? " (\(skippedFaces) smaller not explained: --max-faces)" : ""
        // File names' control characters, line breaks included, are escaped: the lines stay as they are laid out.
        var lines = ["\(path.escapedForOneLine) (\(width)x\(height)): \(faces.count.counting("face"))\(skipped), Grad-CAM at layer \(layer)"]
        for (index, face) in faces.enumerated() {
            lines.append(face.line(number: index + 1) + ", explained: \(face.explained ?? face.emotion)")
        }
        lines.append("  heat maps: \(output.escapedForOneLine)")
        if let guided { lines.append("  guided panel: \(guided.escapedForOneLine)") }
        return lines.joined(separator: "\n")
    }
}
