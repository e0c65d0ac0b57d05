import EmovereVision

/// Where a face sits in the crops the classifiers were trained on, so that faces found by a detector with landmarks
/// are cropped the same way.
///
/// Measured by running YuNet on FER2013's PublicTest faces (each 48x48 image upscaled to 192x192, 98.6 % of them
/// found; medians over 898 images): the midpoint of the eyes falls at (0.49, 0.38) of the crop, the midpoint of
/// the mouth corners at (0.49, 0.76), and both the eye-to-mouth distance and the distance between the eyes are
/// 0.38 of the crop's side. The values agree within 0.01 when the upscaled faces are padded with black or
/// replicated borders.
public struct FaceFraming: Sendable, Equatable {
    /// The crop's side as a multiple of the larger of the eye-to-mouth and eye-to-eye distances.
    public var sidePerFeatureDistance: Float
    /// Where the point halfway between the eyes' and the mouth's midpoints falls in the crop, as fractions of its side.
    public var centreX: Float
    public var centreY: Float

    public init(sidePerFeatureDistance: Float, centreX: Float, centreY: Float) {
        self.sidePerFeatureDistance = sidePerFeatureDistance
        self.centreX = centreX
        self.centreY = centreY
    }

    /// The framing of FER2013 (see the type's documentation).
    public static let fer2013 = FaceFraming(sidePerFeatureDistance: 1 / 0.38, centreX: 0.49, centreY: 0.57)

    /// The square crop (in image pixels, not clamped) that frames the face with these `landmarks` like the training
    /// faces. Using the larger of the two distances keeps the size right for faces turned sideways (the eyes close
    /// up) and for faces tilted up or down (the eyes come near the mouth).
    public func crop(for landmarks: FaceLandmarks) -> Rect {
        let eyes = midpoint(landmarks.rightEye, landmarks.leftEye)
        let mouth = midpoint(landmarks.rightMouthCorner, landmarks.leftMouthCorner)
        let featureDistance = max(distance(eyes, mouth), distance(landmarks.rightEye, landmarks.leftEye))
        let side = max(1, featureDistance * sidePerFeatureDistance)
        let centre = midpoint(eyes, mouth)
        let x = centre.x - centreX * side, y = centre.y - centreY * side
        let rounded = Int(side.rounded())
        return Rect(x: Int(x.rounded()), y: Int(y.rounded()), width: rounded, height: rounded)
    }

    private func midpoint(_ a: ImagePoint, _ b: ImagePoint) -> ImagePoint {
        ImagePoint(x: (a.x + b.x) / 2, y: (a.y + b.y) / 2)
    }

    private func distance(_ a: ImagePoint, _ b: ImagePoint) -> Float {
        ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot()
    }
}
