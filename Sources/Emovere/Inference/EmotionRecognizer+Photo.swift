import EmovereVision

extension EmotionRecognizer {
    /// The one photo-analysis path of `analyze`, `explain` and the server: decodes the encoded photo `bytes`
    /// (`source` names it in errors; at most `limits` pixels; EXIF orientation applied) in colour once, detects on
    /// the colour image and classifies on its luma, at most `maximumFaces` faces (the largest).
    /// - Returns: the decoded photo (for drawing), its faces and how many detected faces were skipped.
    /// - Throws: ``VisionError`` when the photo cannot be decoded or is too large.
    public func analyzePhoto(_ bytes: [UInt8], source: String, limits: ImageLimits = .standard,
                             maximumFaces: Int = .max)
        throws(VisionError) -> (image: RGBImage, faces: [FaceEmotion], skippedFaces: Int) {
        let image = try RGBImage(decoding: bytes, source: source, limits: limits)
        let (faces, skipped) = analyze(image, maximumFaces: maximumFaces)
        return (image, faces, skipped)
    }
}
