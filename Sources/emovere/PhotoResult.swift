import Emovere
import EmovereCore
import EmovereFiles
import EmovereNN
import EmovereTensor
import EmovereVision
import Foundation

/// The outcome for one photo: its faces, or the error that stopped it, and what analysed it.
struct PhotoResult: Codable {
    var path: String
    var width: Int?
    var height: Int?
    /// The detector that found the faces.
    var detector: DetectorDescription
    var faces: [FaceRecord]
    var error: String?
    /// The annotated copy written for this photo.
    var annotation: String?
    /// The photo file's size in bytes and the SHA-256 of its content, when it could be read.
    var bytes: Int?
    var sha256: String?
    /// The model file that classified the faces, the test-time augmentation of its probabilities and the arithmetic
    /// of its convolutions.
    var model: String?
    var tta: TestTimeAugmentation?
    var precision: Precision?

    /// The result for the photo at `path` before (or without) its analysis by `recognizer`: no faces, and `error`
    /// when there is one.
    init(path: String, recognizer: EmotionRecognizer, error: String? = nil) {
        self.path = path
        detector = recognizer.detector.description
        faces = []
        self.error = error
        tta = recognizer.card.testTimeAugmentation ?? TestTimeAugmentation.none
        precision = (recognizer.model as? InferenceModel)?.precision
    }

    /// Detects and classifies the faces of the photo at `path`, a file's path or an `http(s)` URL `downloader`
    /// fetches (`EmotionRecognizer.analyzePhoto`, as the server does); with `annotation`, also writes a copy with the
    /// faces drawn on it to that path. A URL's password is hidden in the result and in messages.
    static func analyze(path input: String, with recognizer: EmotionRecognizer, downloader: PhotoDownloader,
                        annotation: String? = nil, limits: ImageLimits = .standard) -> PhotoResult {
        let path = RemoteAddress.hidingPassword(in: input)
        let shown = PhotoFiles.shownName(of: input)  // `standard input` for `-` in messages
        var result = PhotoResult(path: path, recognizer: recognizer)
        let content: [UInt8]
        do {
            content = try PhotoFiles.contents(of: input, downloader: downloader)
        } catch {
            report(error, for: shown)
            result.error = "\(error)"
            return result
        }
        result.bytes = content.count
        result.sha256 = SHA256.hexDigest(of: content)
        let photo: PhotoAnalysis
        do {
            photo = try recognizer.analyzePhoto(content, source: shown, limits: limits)
        } catch {
            report(error, for: shown)
            result.error = "\(error)"
            return result
        }
        result.width = photo.width
        result.height = photo.height
        result.faces = photo.faces.map { FaceRecord($0) }
        if let annotation {
            do {
                try AnnotatedPhoto.write(AnnotationRenderer().annotated(photo.image, faces: photo.facesInImage), to: annotation)
                result.annotation = annotation
            } catch {
                report(error, for: annotation)
                result.error = "cannot write the annotated photo: \(error)"
            }
        }
        return result
    }

    private static func report(_ error: Error, for path: String) {
        // One line per failed photo: a line break in its name is escaped too.
        StandardError.write("error: \(naming(path, in: "\(error)").escapedForOneLine)\n")
    }

    /// `message` prefixed with `path`, unless it names the file already (read and decode errors do).
    static func naming(_ path: String, in message: String) -> String {
        message.contains(path) ? message : "\(path): \(message)"
    }

    /// Whether the photo was read and analysed (its annotated copy may still have failed).
    var isAnalysed: Bool { width != nil }

    /// The photo's lines in `analyze`'s text output. Errors are not repeated here: each was reported on standard
    /// error as it happened.
    var table: String {
        // A file name's control characters, a line break included, are escaped: one line per photo and face.
        var lines = ["\(path.escapedForOneLine) (\(width ?? 0)x\(height ?? 0)): \(faces.count.counting("face"))"]
        for (index, face) in faces.enumerated() { lines.append(face.line(number: index + 1)) }
        if let annotation { lines.append("  annotated: \(annotation.escapedForOneLine)") }
        return lines.joined(separator: "\n")
    }
}
