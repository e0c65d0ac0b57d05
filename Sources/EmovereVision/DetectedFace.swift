/// A point in an image's pixel coordinates (origin top-left, sub-pixel precision).
public struct ImagePoint: Sendable, Codable, Equatable {
    public var x: Float
    public var y: Float

    public init(x: Float, y: Float) {
        self.x = x
        self.y = y
    }
}

/// The five facial landmarks of a CNN detector. "Right" and "left" are the person's own: the right eye is on the
/// image's left in a frontal photo (OpenCV's and YuNet's order).
public struct FaceLandmarks: Sendable, Codable, Equatable {
    public var rightEye: ImagePoint
    public var leftEye: ImagePoint
    public var noseTip: ImagePoint
    public var rightMouthCorner: ImagePoint
    public var leftMouthCorner: ImagePoint

    public init(rightEye: ImagePoint, leftEye: ImagePoint, noseTip: ImagePoint, rightMouthCorner: ImagePoint,
                leftMouthCorner: ImagePoint) {
        self.rightEye = rightEye
        self.leftEye = leftEye
        self.noseTip = noseTip
        self.rightMouthCorner = rightMouthCorner
        self.leftMouthCorner = leftMouthCorner
    }

    /// The five points in OpenCV's order: right eye, left eye, nose tip, right and left mouth corners.
    public var points: [ImagePoint] { [rightEye, leftEye, noseTip, rightMouthCorner, leftMouthCorner] }

    /// Every point mapped by `transform`.
    public func mapped(_ transform: (ImagePoint) -> ImagePoint) -> FaceLandmarks {
        FaceLandmarks(rightEye: transform(rightEye), leftEye: transform(leftEye), noseTip: transform(noseTip),
                      rightMouthCorner: transform(rightMouthCorner), leftMouthCorner: transform(leftMouthCorner))
    }
}

/// One face a detector found: its box, and where the detector gives them, a confidence and landmarks.
public struct DetectedFace: Sendable, Codable, Equatable {
    /// The face box in the image's pixels, clipped to the image.
    public var box: Rect
    /// The detector's confidence in `[0, 1]` (YuNet's score); nil for detectors without one.
    public var score: Float?
    /// The five landmarks (YuNet); nil for detectors without them.
    public var landmarks: FaceLandmarks?

    public init(box: Rect, score: Float? = nil, landmarks: FaceLandmarks? = nil) {
        self.box = box
        self.score = score
        self.landmarks = landmarks
    }
}

/// The face detectors Emovere offers.
public enum DetectorKind: String, Sendable, Codable, CaseIterable {
    /// YuNet, a CNN with landmarks, run on Emovere's engine (the default).
    case yunet
    /// OpenCV's frontal-face Haar cascade, reproducing `detectMultiScale` exactly.
    case haar
    /// No detection: the whole image is one face (for photos that are already face crops).
    case none
}

/// Which detector produced a result, as JSON outputs and the server's `/v1/models` name it.
public struct DetectorDescription: Sendable, Codable, Equatable {
    public var kind: DetectorKind
    /// The score below which YuNet candidates are dropped; nil for detectors without scores.
    public var scoreThreshold: Float?
    /// The model or cascade file's name (without its folder); nil for `none`.
    public var file: String?
    /// YuNet: the longest side, in pixels, photos are scaled down to for detection.
    public var detectionSize: Int?
    /// Haar: the scale step between search windows, the neighbours a face needs, and the smallest face side in
    /// pixels (nil: no limit).
    public var scaleFactor: Double?
    public var minimumNeighbors: Int?
    public var minimumFaceSize: Int?

    public init(kind: DetectorKind, scoreThreshold: Float? = nil, file: String? = nil, detectionSize: Int? = nil,
                scaleFactor: Double? = nil, minimumNeighbors: Int? = nil, minimumFaceSize: Int? = nil) {
        self.kind = kind
        self.scoreThreshold = scoreThreshold
        self.file = file
        self.detectionSize = detectionSize
        self.scaleFactor = scaleFactor
        self.minimumNeighbors = minimumNeighbors
        self.minimumFaceSize = minimumFaceSize
    }
}

extension DetectorDescription: CustomStringConvertible {
    /// The kind, then the file and settings where there are: `yunet (face.onnx, score threshold 0.6, detection size
    /// 640)`.
    public var description: String {
        let details = [
            file, scoreThreshold.map { "score threshold \($0)" }, detectionSize.map { "detection size \($0)" },
            scaleFactor.map { "scale factor \($0)" }, minimumNeighbors.map { "minimum neighbours \($0)" },
            minimumFaceSize.map { "minimum face \($0) px" },
        ].compactMap { $0 }
        return details.isEmpty ? kind.rawValue : "\(kind.rawValue) (\(details.joined(separator: ", ")))"
    }
}

/// A face detector: colour image in, faces out. A detector may keep buffers between calls, so one instance serves
/// one thread at a time.
public protocol FaceDetecting {
    /// What this detector is, for outputs that name it.
    var description: DetectorDescription { get }

    /// The faces in `image`, in a deterministic order.
    func detect(in image: RGBImage) -> [DetectedFace]

    /// The faces near `box` in `image` whose size is close to the box's (between 2/3 and 3/2 of it): how video
    /// follows a face between full-frame detections.
    func detect(in image: RGBImage, near box: Rect) -> [DetectedFace]
}

/// The whole image as one face: for photos that are already face crops (deepface's `skip` detector).
public struct WholeImageDetector: FaceDetecting {
    public init() {}

    public var description: DetectorDescription { DetectorDescription(kind: .none) }

    public func detect(in image: RGBImage) -> [DetectedFace] {
        image.width > 0 && image.height > 0 ? [DetectedFace(box: Rect(x: 0, y: 0, width: image.width, height: image.height))] : []
    }

    public func detect(in image: RGBImage, near box: Rect) -> [DetectedFace] {
        detect(in: image)
    }
}

/// The Haar cascade detector with fixed search settings, as a `FaceDetecting`: detection runs on the luma image.
public struct HaarDetector: FaceDetecting {
    public let detector: FaceDetector
    public let parameters: FaceDetector.DetectionParameters
    /// The cascade file's name, for `description`.
    public let file: String?

    public init(detector: FaceDetector, parameters: FaceDetector.DetectionParameters = .faceClassification,
                file: String? = nil) {
        self.detector = detector
        self.parameters = parameters
        self.file = file
    }

    public var description: DetectorDescription {
        DetectorDescription(kind: .haar, file: file, scaleFactor: parameters.scaleFactor,
                            minimumNeighbors: parameters.minimumNeighbors, minimumFaceSize: parameters.minimumSize?.width)
    }

    public func detect(in image: RGBImage) -> [DetectedFace] {
        detector.detect(in: image.grayscale(), parameters: parameters).map { DetectedFace(box: $0) }
    }

    /// A search of the box's neighbourhood (the box grown by half its size on every side) for sizes from 2/3 to
    /// 3/2 of it.
    public func detect(in image: RGBImage, near box: Rect) -> [DetectedFace] {
        let region = box.expanded(byFraction: 0.5).clamped(toWidth: image.width, height: image.height)
        guard !region.isEmpty else { return [] }
        let side = max(box.width, box.height)
        guard let local = try? FaceDetector.DetectionParameters(
            scaleFactor: parameters.scaleFactor, minimumNeighbors: parameters.minimumNeighbors,
            minimumSize: FaceDetector.WindowSize(width: side * 2 / 3, height: side * 2 / 3),
            maximumSize: FaceDetector.WindowSize(width: side * 3 / 2, height: side * 3 / 2))
        else { return [] }  // Unreachable: sizes derived from a box are never negative.
        let gray: GrayImage = image.cropped(to: region).grayscale()
        return detector.detect(in: gray, parameters: local).map {
            DetectedFace(box: Rect(x: $0.x + region.x, y: $0.y + region.y, width: $0.width, height: $0.height))
        }
    }
}
