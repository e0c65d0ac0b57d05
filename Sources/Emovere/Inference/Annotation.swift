import EmovereData
import EmovereVision

/// Draws recognised faces on a photo: each face's box in its emotion's colour, the top emotion and its confidence
/// on a label above the box, and a panel with one probability bar per emotion beside the face.
///
/// Text and lines scale with the face and the photo, so the annotations stay readable on a 512-pixel photo
/// and on a 4000-pixel one. Everything is clipped to the photo; faces at the edges get their label inside the
/// box and their panel on whichever side has room.
public struct AnnotationRenderer: Sendable {
    /// Opacity of the panels' dark background, 0...1.
    public var panelOpacity: Double
    /// The font of labels and panels.
    public var font: BitmapFont

    /// A renderer with the built-in font and a 65 % opaque panel background.
    public init(panelOpacity: Double = 0.65, font: BitmapFont = .standard) {
        self.panelOpacity = panelOpacity
        self.font = font
    }

    /// The colour of an emotion's box, label and bar.
    public static func color(for emotion: Emotion) -> RGBColor {
        switch emotion {
        case .angry: RGBColor(red: 230, green: 45, blue: 45)
        case .disgust: RGBColor(red: 120, green: 190, blue: 40)
        case .fear: RGBColor(red: 170, green: 90, blue: 230)
        case .happy: RGBColor(red: 255, green: 205, blue: 30)
        case .sad: RGBColor(red: 60, green: 130, blue: 240)
        case .surprise: RGBColor(red: 255, green: 135, blue: 30)
        case .neutral: RGBColor(red: 200, green: 200, blue: 200)
        }
    }

    /// Image pixels per font pixel for a face `box` in a `imageWidth` x `imageHeight` photo: about one per 110
    /// pixels of face side, and at least one per 900 pixels of the photo's longer side (so text stays legible
    /// when a large photo is shown shrunk to a screen), and never so large that a panel is wider than the photo.
    public func scale(for box: Rect, imageWidth: Int, imageHeight: Int) -> Int {
        let side = Double(max(min(box.width, box.height), 0))
        let longer = Double(max(imageWidth, imageHeight, 0))
        var scale = max(1, Int(max(side / 110, longer / 900).rounded()))
        while scale > 1, panelSize(scale: scale).width > imageWidth { scale -= 1 }
        return scale
    }

    /// A copy of `image` with `faces` drawn on it.
    public func annotated(_ image: RGBImage, faces: [FaceEmotion]) -> RGBImage {
        var output = image
        annotate(&output, faces: faces)
        return output
    }

    /// Draws `faces` on `image`: first every box, then every label and panel, so no box is drawn over another
    /// face's text.
    public func annotate(_ image: inout RGBImage, faces: [FaceEmotion]) {
        let scales = faces.map { scale(for: $0.box, imageWidth: image.width, imageHeight: image.height) }
        for (face, scale) in zip(faces, scales) {
            let thickness = max(2, Int((Double(min(face.box.width, face.box.height)) / 60).rounded()), scale)
            image.drawRectangle(face.box, color: Self.color(for: face.emotion), thickness: thickness)
        }
        let boxes = faces.map(\.box)
        for (index, (face, scale)) in zip(faces, scales).enumerated() {
            let otherBoxes = boxes.enumerated().filter { $0.offset != index }.map(\.element)
            drawLabel(for: face, scale: scale, on: &image)
            drawPanel(for: face, scale: scale, avoiding: otherBoxes, on: &image)
        }
    }

    // MARK: - Parts

    /// `happy 87%` on the emotion's colour, on top of the box (inside it when the box touches the top edge).
    private func drawLabel(for face: FaceEmotion, scale: Int, on image: inout RGBImage) {
        let color = Self.color(for: face.emotion)
        let text = "\(face.emotion.name) \(ProbabilityBarStyle.percentText(Double(face.confidence)))"
        let size = RGBImage.labelSize(text, scale: scale, font: font)
        let y = face.box.y - size.height >= 0 ? face.box.y - size.height : max(face.box.y, 0)
        let x = Self.fit(face.box.x, length: size.width, limit: image.width)
        image.drawLabel(text, x: x, y: y, textColor: color.contrastingTextColor, background: color, scale: scale,
                        font: font)
    }

    /// The seven probabilities as bars, on a dark panel to the right of the face, else to its left, below it or
    /// above it: the first place inside the photo that covers no other face, else the first inside the photo,
    /// else pushed into the photo on the right.
    private func drawPanel(for face: FaceEmotion, scale: Int, avoiding otherBoxes: [Rect], on image: inout RGBImage) {
        let size = panelSize(scale: scale)
        let gap = 2 * scale
        let labelHeight = RGBImage.labelSize("Ag", scale: scale, font: font).height
        let box = face.box
        let candidates = [
            Rect(x: box.maxX + gap, y: box.y, width: size.width, height: size.height),
            Rect(x: box.x - gap - size.width, y: box.y, width: size.width, height: size.height),
            Rect(x: box.x, y: box.maxY + gap, width: size.width, height: size.height),
            Rect(x: box.x, y: box.y - labelHeight - gap - size.height, width: size.width, height: size.height),
        ]
        let inside = candidates.filter { $0.x >= 0 && $0.y >= 0 && $0.maxX <= image.width && $0.maxY <= image.height }
        let panel = inside.first { candidate in !otherBoxes.contains { $0.intersection(candidate) != nil } }
            ?? inside.first
            ?? Rect(x: Self.fit(candidates[0].x, length: size.width, limit: image.width),
                    y: Self.fit(candidates[0].y, length: size.height, limit: image.height),
                    width: size.width, height: size.height)
        image.fillRectangle(panel, color: RGBColor(red: 16, green: 16, blue: 16), opacity: panelOpacity)
        let padding = 2 * scale
        let rowStep = style(scale: scale, emotion: .neutral).rowSize.height + 2 * scale
        for (index, probability) in face.probabilities.prefix(Emotion.count).enumerated() {
            guard let emotion = Emotion(rawValue: index) else { continue }
            image.drawProbabilityBar(label: emotion.name, value: Double(probability), x: panel.x + padding,
                                     y: panel.y + padding + index * rowStep,
                                     style: style(scale: scale, emotion: emotion))
        }
    }

    /// The panel's size at `scale`: seven rows two font pixels apart, with two font pixels of padding.
    func panelSize(scale: Int) -> (width: Int, height: Int) {
        let row = style(scale: scale, emotion: .neutral).rowSize
        let rows = Emotion.count
        return (row.width + 4 * scale, rows * row.height + (rows - 1) * 2 * scale + 4 * scale)
    }

    private func style(scale: Int, emotion: Emotion) -> ProbabilityBarStyle {
        ProbabilityBarStyle(scale: scale, labelCharacters: 8, barLength: 40, textColor: .white,
                            barColor: Self.color(for: emotion), trackColor: RGBColor(red: 75, green: 75, blue: 75),
                            font: font)
    }

    /// `start` moved so that `start..<start + length` lies inside `0..<limit` when it fits (else 0).
    private static func fit(_ start: Int, length: Int, limit: Int) -> Int {
        guard length <= limit else { return 0 }
        return min(max(start, 0), limit - length)
    }
}
