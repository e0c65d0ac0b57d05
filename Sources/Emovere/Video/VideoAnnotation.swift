import EmovereVision

extension TrackedFaceEmotion {
    /// This face as the photo pipeline's ``FaceEmotion`` (box, probabilities and landmarks).
    public var faceEmotion: FaceEmotion {
        FaceEmotion(box: box, probabilities: probabilities, landmarks: landmarks)
    }
}

extension AnnotationRenderer {
    /// Draws tracked faces as ``annotate(_:faces:)`` draws photo faces (box, top emotion, probability panel),
    /// plus each face's track number (`#1`) in a small label at the bottom-left corner inside its box.
    public func annotate(_ image: inout RGBImage, trackedFaces: [TrackedFaceEmotion]) {
        annotate(&image, faces: trackedFaces.map(\.faceEmotion))
        for face in trackedFaces {
            let scale = self.scale(for: face.box, imageWidth: image.width, imageHeight: image.height)
            let text = "#\(face.track)"
            let size = RGBImage.labelSize(text, scale: scale, font: font)
            let x = max(face.box.x, 0)
            let y = min(face.box.maxY, image.height) - size.height
            image.drawLabel(text, x: x, y: y, textColor: .white, background: .black, backgroundOpacity: 0.6,
                            scale: scale, font: font)
        }
    }
}
