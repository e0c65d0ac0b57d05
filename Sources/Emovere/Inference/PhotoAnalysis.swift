import EmovereVision

/// What `EmotionRecognizer.analyzePhoto` found in one photo.
public struct PhotoAnalysis: Sendable {
    /// The photo as decoded (colour, upright): its stored size, or smaller when `ImageLimits.maximumDecodedPixels`
    /// reduced a large JPEG.
    public var image: RGBImage
    /// The stored photo's width and height after EXIF orientation: the frame of `faces`.
    public var width: Int, height: Int
    /// The faces analysed, in the stored photo's pixels (at most the `maximumFaces` largest, in detection order).
    public var faces: [FaceEmotion]
    /// The same faces in `image`'s pixels, for drawing on it.
    public var facesInImage: [FaceEmotion]
    /// Faces detected but not analysed because there were more than `maximumFaces`.
    public var skippedFaces: Int

    /// An analysis of `image` decoded from a `width` x `height` photo, with `facesInImage` found in `image`.
    public init(image: RGBImage, width: Int, height: Int, facesInImage: [FaceEmotion], skippedFaces: Int) {
        self.image = image
        self.width = width
        self.height = height
        self.facesInImage = facesInImage
        self.skippedFaces = skippedFaces
        let horizontal = Double(width) / Double(image.width), vertical = Double(height) / Double(image.height)
        faces = width == image.width && height == image.height ? facesInImage : facesInImage.map { face in
            var scaled = face
            scaled.box = face.box.scaled(horizontal: horizontal, vertical: vertical)
            scaled.landmarks = face.landmarks?.mapped {
                ImagePoint(x: Float(Double($0.x) * horizontal), y: Float(Double($0.y) * vertical))
            }
            return scaled
        }
    }
}
