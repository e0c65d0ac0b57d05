import Emovere
import EmovereData
import EmovereVision

/// The JSON answer of `POST /v1/analyze`: the image size and, per face, its box, top emotion, confidence and the
/// seven probabilities by name.
public struct AnalysisResponse: Codable, Sendable, Equatable {
    /// One face.
    public struct Face: Codable, Sendable, Equatable {
        /// The face box in image pixels, origin top-left.
        public var box: Rect
        /// The most probable emotion's name.
        public var emotion: String
        /// The probability of `emotion`.
        public var confidence: Float
        /// Every class's probability, keyed by label.
        public var probabilities: [String: Float]

        /// The JSON form of a recognised face (probabilities keyed by `Emotion` name).
        public init(_ face: FaceEmotion) {
            box = face.box
            emotion = face.emotion.name
            confidence = face.confidence
            probabilities = Emotion.byName(face.probabilities)
        }
    }

    /// Image width in pixels (after EXIF orientation).
    public var width: Int
    /// Image height in pixels.
    public var height: Int
    /// The faces found, in detection order.
    public var faces: [Face]

    /// A response for an image of `width` x `height` with `faces`.
    public init(width: Int, height: Int, faces: [Face]) {
        self.width = width
        self.height = height
        self.faces = faces
    }
}

/// What one analysis produced: the image size, the faces and, when asked for, the annotated PNG.
struct Analysis: Sendable {
    var width: Int
    var height: Int
    var faces: [FaceEmotion]
    var annotatedPNG: [UInt8]?

    /// Decodes `bytes` (at most `limits` pixels) and finds the faces and their emotions with `recognizer`; with
    /// `annotate`, also draws them on the colour image and encodes it as PNG.
    static func run(bytes: [UInt8], source: String, limits: ImageLimits, annotate: Bool,
                    with recognizer: EmotionRecognizer) throws(ServerError) -> Analysis {
        do {
            if annotate {
                let color = try RGBImage(decoding: bytes, source: source, limits: limits)
                let faces = recognizer.analyze(color.grayscale())
                let annotated = AnnotationRenderer().annotated(color, faces: faces)
                return Analysis(width: color.width, height: color.height, faces: faces,
                                annotatedPNG: try annotated.pngData())
            }
            let gray = try GrayImage(decoding: bytes, source: source, limits: limits)
            return Analysis(width: gray.width, height: gray.height, faces: recognizer.analyze(gray))
        } catch {
            throw ServerError(error)
        }
    }
}
