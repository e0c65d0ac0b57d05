import Emovere
import EmovereData
import EmovereVision

/// The JSON answer of `POST /v1/analyze`: the image size, the detector, and per face its box, top emotion,
/// confidence, the seven probabilities by name and (YuNet) the detection score and landmarks.
public struct AnalysisResponse: Codable, Sendable, Equatable {
    /// Image width in pixels (after EXIF orientation).
    public var width: Int
    /// Image height in pixels.
    public var height: Int
    /// The detector that found the faces.
    public var detector: DetectorDescription
    /// The faces analysed, in detection order.
    public var faces: [FaceRecord]
    /// Faces detected but not analysed because the image held more than the server's `--max-faces` (the smallest
    /// ones are skipped).
    public var skippedFaces: Int

    /// A response for an image of `width` x `height` with `faces`.
    public init(width: Int, height: Int, detector: DetectorDescription, faces: [FaceRecord], skippedFaces: Int = 0) {
        self.width = width
        self.height = height
        self.detector = detector
        self.faces = faces
        self.skippedFaces = skippedFaces
    }
}

/// What one analysis produced: the image size, the faces and, when asked for, the annotated PNG.
struct Analysis: Sendable {
    var width: Int
    var height: Int
    var faces: [FaceEmotion]
    var skippedFaces: Int
    var annotatedPNG: [UInt8]?

    /// Decodes `bytes` (at most `limits` pixels; a large JPEG reduced as `limits` says, faces reported in the stored
    /// photo's pixels, the annotated PNG at the decoded size) and finds the faces (at most `maximumFaces`, the
    /// largest) and their emotions with `recognizer`; with `annotate`, also draws them on the colour image and
    /// encodes it as PNG.
    static func run(bytes: [UInt8], source: String, limits: ImageLimits, maximumFaces: Int, annotate: Bool,
                    with recognizer: EmotionRecognizer) throws(ServerError) -> Analysis {
        do {
            let photo = try recognizer.analyzePhoto(bytes, source: source, limits: limits, maximumFaces: maximumFaces)
            let annotated = annotate
                ? try AnnotationRenderer().annotated(photo.image, faces: photo.facesInImage).pngData() : nil
            return Analysis(width: photo.width, height: photo.height, faces: photo.faces,
                            skippedFaces: photo.skippedFaces, annotatedPNG: annotated)
        } catch {
            throw ServerError(error)
        }
    }
}
