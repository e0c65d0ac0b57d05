import EmovereVision

extension EmotionRecognizer {
    /// The one photo-analysis path of `analyze`, `explain` and the server: decodes the encoded photo `bytes`
    /// (`source` names it in errors; at most `limits.maximumPixels` pixels, a large JPEG at a reduced scale when
    /// `limits.maximumDecodedPixels` says so; EXIF orientation applied) in colour once, detects on the colour image
    /// and classifies on its luma, at most `maximumFaces` faces (the largest).
    /// - Throws: ``VisionError`` when the photo cannot be decoded or is too large.
    public func analyzePhoto(_ bytes: [UInt8], source: String, limits: ImageLimits = .standard,
                             maximumFaces: Int = .max) throws(VisionError) -> PhotoAnalysis {
        let decoded = try ImageCodec.decode(bytes, layout: .rgb, source: source, limits: limits)
        let image = RGBImage(width: decoded.width, height: decoded.height, pixels: decoded.pixels)
        let (faces, skipped) = analyze(image, maximumFaces: maximumFaces)
        return PhotoAnalysis(image: image, width: decoded.storedWidth, height: decoded.storedHeight,
                             facesInImage: faces, skippedFaces: skipped)
    }
}
