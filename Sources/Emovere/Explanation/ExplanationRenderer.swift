import EmovereData
import EmovereVision

/// Draws explanations: Grad-CAM heat maps over the faces of a photo, and a panel of each face's maps.
public struct ExplanationRenderer: Sendable {
    /// Opacity of the heat maps over the photo, 0...1.
    public var heatMapOpacity: Double
    /// Side of each picture in the panel, in pixels.
    public var tileSize: Int
    /// Draws the boxes, labels and probability panels.
    public var annotation: AnnotationRenderer

    public init(heatMapOpacity: Double = 0.5, tileSize: Int = 192, annotation: AnnotationRenderer = AnnotationRenderer()) {
        self.heatMapOpacity = heatMapOpacity
        self.tileSize = tileSize
        self.annotation = annotation
    }

    /// A copy of `photo` with each face's Grad-CAM heat map (jet colours: blue ignored, red decisive) blended over
    /// the region the model saw (turned with it), then the annotations of `AnnotationRenderer` (box, top emotion, probability
    /// bars). A face explained for another emotion than its top one says so on its label (`happy 91%, Grad-CAM:
    /// sad`), placed as every label is.
    public func overlaid(_ photo: RGBImage, faces: [FaceExplanation]) -> RGBImage {
        var output = photo
        for face in faces {
            let rect = face.region.rect
            let map = Self.grayImage(face.gradCAM, side: face.input.width) { $0 }
                .resized(width: max(rect.width, 0), height: max(rect.height, 0)).heatMap()
            output.drawImage(map, over: face.region, opacity: heatMapOpacity)
        }
        annotation.annotate(&output, faces: faces.map(\.face),
                            notes: faces.map { $0.emotion == $0.face.emotion ? nil : "Grad-CAM: \($0.emotion.name)" })
        return output
    }

    /// Column titles of `panel(faces:)`.
    public static let panelColumns = ["face", "Grad-CAM", "guided backprop", "guided Grad-CAM"]

    /// The height in pixels of `panel(faces:)` for `faceCount` faces.
    public func panelHeight(faceCount: Int) -> Int {
        RGBImage.labelSize("Ag", scale: titleScale, font: annotation.font).height + gap + faceCount * (tileSize + gap)
            + gap
    }

    /// The space between the panel's pictures, in pixels.
    private var gap: Int { max(tileSize / 24, 2) }

    /// The scale of the panel's titles.
    private var titleScale: Int { max(tileSize / 96, 1) }

    /// One row per face, `tileSize` pixels high: the face as the model saw it, its Grad-CAM heat map over it,
    /// guided backpropagation and guided Grad-CAM (gray 128 is zero; three standard deviations reach black or
    /// white), under a row of column titles; each row is labelled with the face's number and explained emotion.
    public func panel(faces: [FaceExplanation]) -> RGBImage {
        let (gap, scale) = (self.gap, self.titleScale)
        let title = RGBImage.labelSize("Ag", scale: scale, font: annotation.font).height
        let columns = Self.panelColumns.count
        var panel = RGBImage(width: columns * tileSize + (columns + 1) * gap,
                             height: panelHeight(faceCount: faces.count), red: 24, green: 24, blue: 24)
        for (column, name) in Self.panelColumns.enumerated() {
            panel.drawText(name, x: gap + column * (tileSize + gap), y: gap, color: .white, scale: scale,
                           font: annotation.font)
        }
        for (row, face) in faces.enumerated() {
            let side = face.input.width
            let picture = face.input.rgb()
            var overlay = picture
            overlay.drawImage(Self.grayImage(face.gradCAM, side: side) { $0 }.heatMap(), x: 0, y: 0,
                              opacity: heatMapOpacity)
            let tiles = [picture, overlay, Self.signedImage(face.guidedBackpropagation, side: side).rgb(),
                         Self.signedImage(face.guidedGradCAM, side: side).rgb()]
            let y = title + 2 * gap + row * (tileSize + gap)
            for (column, tile) in tiles.enumerated() {
                panel.drawImage(tile.resized(width: tileSize, height: tileSize), x: gap + column * (tileSize + gap), y: y)
            }
            let color = AnnotationRenderer.color(for: face.emotion)
            panel.drawLabel("#\(row + 1) \(face.emotion.name)", x: gap, y: y, textColor: color.contrastingTextColor,
                            background: color, scale: scale, font: annotation.font)
        }
        return panel
    }

    /// `values` (`side x side`) as 8-bit gray after `transform` maps each to 0...1 (clamped).
    static func grayImage(_ values: [Float], side: Int, _ transform: (Float) -> Float) -> GrayImage {
        GrayImage(width: side, height: side, pixels: values.map { value in
            let unit = transform(value)
            return UInt8((unit.isNaN ? 0 : min(max(unit, 0), 1) * 255).rounded())
        })
    }

    /// Signed `values` as gray: 0 at 128, plus or minus three standard deviations (about zero) at 255 and 0.
    static func signedImage(_ values: [Float], side: Int) -> GrayImage {
        let meanSquare = values.reduce(Float(0)) { $0 + $1 * $1 } / Float(max(values.count, 1))
        let spread = 3 * meanSquare.squareRoot()
        return grayImage(values, side: side) { spread > 0 ? 0.5 + 0.5 * $0 / spread : 0.5 }
    }
}
