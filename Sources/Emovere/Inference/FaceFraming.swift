import EmovereVision
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// Where a face sits in the crops the classifiers were trained on, so that faces found by a detector with landmarks
/// are cropped the same way.
///
/// Measured by running YuNet on FER2013's PublicTest faces (each 48x48 image upscaled to 192x192, 98.6 % of them
/// found; medians over 898 images): the midpoint of the eyes falls at (0.49, 0.38) of the crop, the midpoint of
/// the mouth corners at (0.49, 0.76), and both the eye-to-mouth distance and the distance between the eyes are
/// 0.38 of the crop's side. The values agree within 0.01 when the upscaled faces are padded with black or
/// replicated borders.
///
/// FER2013's faces are upright as a rule (the angle of the line between the eyes, measured the same way: median
/// 0.1 degrees, 90 % within 11 degrees), so a tilted head is turned upright: the crop's sides follow the eye line.
public struct FaceFraming: Sendable, Equatable {
    /// The crop's side as a multiple of the larger of the eye-to-mouth and eye-to-eye distances.
    public var sidePerFeatureDistance: Float
    /// Where the point halfway between the eyes' and the mouth's midpoints falls in the crop, as fractions of its side.
    public var centreX: Float
    public var centreY: Float
    /// Whether the crop turns with the line between the eyes (a tilted head reaches the model upright) or keeps
    /// the image's axes.
    public var levelsEyes: Bool

    public init(sidePerFeatureDistance: Float, centreX: Float, centreY: Float, levelsEyes: Bool = true) {
        self.sidePerFeatureDistance = sidePerFeatureDistance
        self.centreX = centreX
        self.centreY = centreY
        self.levelsEyes = levelsEyes
    }

    /// The framing of FER2013 (see the type's documentation).
    public static let fer2013 = FaceFraming(sidePerFeatureDistance: 1 / 0.38, centreX: 0.49, centreY: 0.57)

    /// The square crop (in image pixels, not clamped) that frames the face with these `landmarks` like the training
    /// faces, turned with the eye line when `levelsEyes`. Using the larger of the two distances keeps the size right
    /// for faces turned sideways (the eyes close up) and for faces tilted up or down (the eyes come near the mouth).
    public func crop(for landmarks: FaceLandmarks) -> ImageRegion {
        let eyes = midpoint(landmarks.rightEye, landmarks.leftEye)
        let mouth = midpoint(landmarks.rightMouthCorner, landmarks.leftMouthCorner)
        let featureDistance = max(distance(eyes, mouth), distance(landmarks.rightEye, landmarks.leftEye))
        let side = max(1, featureDistance * sidePerFeatureDistance)
        // The subject's right eye is the one on the image's left when the face is upright.
        let eyeLine = (x: landmarks.leftEye.x - landmarks.rightEye.x, y: landmarks.leftEye.y - landmarks.rightEye.y)
        let angle = levelsEyes && (eyeLine.x != 0 || eyeLine.y != 0) ? atan2f(eyeLine.y, eyeLine.x) : 0
        // The features' centre sits at (centreX, centreY) of the turned crop, so the crop's centre is offset from it
        // along the crop's own axes.
        let features = midpoint(eyes, mouth)
        // Landmarks that are not numbers, or far beyond any photo, frame nothing (an empty crop, not a trap).
        let limit: Float = 0x1p30
        guard [features.x, features.y, side, angle].allSatisfy({ $0.isFinite && abs($0) < limit }) else {
            return ImageRegion(rect: Rect(x: 0, y: 0, width: 0, height: 0))
        }
        // The corner's offset from the features' centre, along the crop's own axes (unturned: -centreX * side).
        let corner: (x: Float, y: Float)
        if angle == 0 {
            corner = (features.x - centreX * side, features.y - centreY * side)
        } else {
            let (cosine, sine) = (cosf(angle), sinf(angle))
            let offsetAcross = (0.5 - centreX) * side, offsetDown = (0.5 - centreY) * side
            corner = (features.x + offsetAcross * cosine - offsetDown * sine - side / 2,
                      features.y + offsetAcross * sine + offsetDown * cosine - side / 2)
        }
        let rounded = Int(side.rounded())
        let rect = Rect(x: Int(corner.x.rounded()), y: Int(corner.y.rounded()), width: rounded, height: rounded)
        return ImageRegion(rect: rect, angle: angle)
    }

    private func midpoint(_ a: ImagePoint, _ b: ImagePoint) -> ImagePoint {
        ImagePoint(x: (a.x + b.x) / 2, y: (a.y + b.y) / 2)
    }

    private func distance(_ a: ImagePoint, _ b: ImagePoint) -> Float {
        ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot()
    }
}
