import EmovereData
import EmovereVision

/// Draws recognised faces on a photo: each face's box in its emotion's colour, the top emotion and its confidence
/// on a label above the box, and a panel with one probability bar per emotion beside the face.
///
/// Text and lines scale with the face and the photo, so the annotations stay readable on a 512-pixel photo
/// and on a 4000-pixel one. Labels and panels never cover a face or each other: crowded faces get smaller text,
/// then only their label.
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

    /// Draws `faces` on `image`: first every box (and YuNet's landmarks), then every label and panel, placed so
    /// that no label or panel covers a face or another label or panel. Larger faces choose first; a face whose
    /// panel finds no free place keeps only its label, and a label with no free place outside the boxes shrinks to
    /// the smallest text and goes inside the top of its own box. `notes` (empty, or one per face) adds text to a
    /// face's label, after its emotion.
    public func annotate(_ image: inout RGBImage, faces: [FaceEmotion], notes: [String?] = []) {
        let scales = faces.map { scale(for: $0.box, imageWidth: image.width, imageHeight: image.height) }
        for (face, scale) in zip(faces, scales) {
            let thickness = max(2, Int((Double(min(face.box.width, face.box.height)) / 60).rounded()), scale)
            let color = Self.color(for: face.emotion)
            image.drawRectangle(face.box, color: color, thickness: thickness)
            if let landmarks = face.landmarks {
                let dot = max(2, min(face.box.width, face.box.height) / 40)
                for point in landmarks.points {
                    let centre = Rect(x: Int(point.x.rounded()) - dot / 2, y: Int(point.y.rounded()) - dot / 2,
                                      width: dot, height: dot)
                    image.fillRectangle(centre.expanded(byFraction: 0.5), color: .black)
                    image.fillRectangle(centre, color: color)
                }
            }
        }
        let placements = layout(faces, notes: notes, imageWidth: image.width, imageHeight: image.height)
        for (index, (face, place)) in zip(faces, placements).enumerated() {
            let color = Self.color(for: face.emotion)
            let text = labelText(for: face, note: notes.isEmpty ? nil : notes[index])
            image.drawLabel(text, x: place.label.x, y: place.label.y, textColor: color.contrastingTextColor,
                            background: color, scale: place.labelScale, font: font)
            guard let panel = place.panel else { continue }
            image.fillRectangle(panel, color: RGBColor(red: 16, green: 16, blue: 16), opacity: panelOpacity)
            let padding = 2 * place.panelScale
            let rowStep = style(scale: place.panelScale, emotion: .neutral).rowSize.height + 2 * place.panelScale
            for (index, probability) in face.probabilities.prefix(Emotion.count).enumerated() {
                guard let emotion = Emotion(rawValue: index) else { continue }
                image.drawProbabilityBar(label: emotion.name, value: Double(probability), x: panel.x + padding,
                                         y: panel.y + padding + index * rowStep,
                                         style: style(scale: place.panelScale, emotion: emotion))
            }
        }
    }

    /// Where one face's label and probability panel go.
    public struct Placement: Sendable, Equatable {
        /// The label's rectangle and text scale.
        public var label: Rect
        public var labelScale: Int
        /// The panel's rectangle and scale; nil when no free place was found (the face keeps only its label).
        public var panel: Rect?
        public var panelScale: Int
    }

    /// The placement of every face's label and panel in an image of `imageWidth x imageHeight`, in the order of
    /// `faces`: larger faces choose first; a label goes above its box, else below it, at the face's text size, half
    /// of it or the smallest, wherever it covers no face, label or panel placed so far (else, smallest, inside the
    /// top of its own box); a panel goes right of the face, else left, below or above, at full or half size, on the
    /// same condition (else nowhere). `notes` (empty, or one per face) lengthens the labels as `annotate` does.
    public func layout(_ faces: [FaceEmotion], notes: [String?] = [], imageWidth: Int, imageHeight: Int) -> [Placement] {
        precondition(notes.isEmpty || notes.count == faces.count, "layout expects no notes or one per face")
        var occupied = faces.map(\.box)
        var placements = [Placement?](repeating: nil, count: faces.count)
        for index in faces.indices.sorted(by: { faces[$0].box.area > faces[$1].box.area }) {
            let face = faces[index]
            let scale = self.scale(for: face.box, imageWidth: imageWidth, imageHeight: imageHeight)
            let text = labelText(for: face, note: notes.isEmpty ? nil : notes[index])
            let (label, labelScale) = placeLabel(text, box: face.box, scale: scale, avoiding: occupied,
                                                 imageWidth: imageWidth, imageHeight: imageHeight)
            occupied.append(label)
            var placement = Placement(label: label, labelScale: labelScale, panel: nil, panelScale: scale)
            for panelScale in Set([scale, max(1, scale / 2)]).sorted(by: >) where placement.panel == nil {
                let size = panelSize(scale: panelScale)
                let gap = 2 * panelScale
                let box = face.box
                let top = min(box.y, label.y), bottom = max(box.maxY, label.maxY)
                let candidates = [
                    Rect(x: box.maxX + gap, y: box.y, width: size.width, height: size.height),
                    Rect(x: box.x - gap - size.width, y: box.y, width: size.width, height: size.height),
                    Rect(x: box.x, y: bottom + gap, width: size.width, height: size.height),
                    Rect(x: box.x, y: top - gap - size.height, width: size.width, height: size.height),
                ]
                if let panel = candidates.first(where: {
                    Self.isInside($0, imageWidth, imageHeight) && Self.isFree($0, of: occupied)
                }) {
                    placement.panel = panel
                    placement.panelScale = panelScale
                    occupied.append(panel)
                }
            }
            placements[index] = placement
        }
        return placements.compactMap { $0 }
    }

    private func labelText(for face: FaceEmotion, note: String?) -> String {
        "\(face.emotion.name) \(ProbabilityBarStyle.percentText(Double(face.confidence)))" + (note.map { ", \($0)" } ?? "")
    }

    private func placeLabel(_ text: String, box: Rect, scale: Int, avoiding occupied: [Rect], imageWidth: Int,
                            imageHeight: Int) -> (Rect, Int) {
        for candidateScale in Set([scale, max(1, scale / 2), 1]).sorted(by: >) {
            let size = RGBImage.labelSize(text, scale: candidateScale, font: font)
            let x = Self.fit(box.x, length: size.width, limit: imageWidth)
            let places = [Rect(x: x, y: box.y - size.height, width: size.width, height: size.height),
                          Rect(x: x, y: box.maxY, width: size.width, height: size.height)]
            if let free = places.first(where: { Self.isInside($0, imageWidth, imageHeight) && Self.isFree($0, of: occupied) }) {
                return (free, candidateScale)
            }
        }
        let size = RGBImage.labelSize(text, scale: 1, font: font)
        return (Rect(x: Self.fit(box.x, length: size.width, limit: imageWidth),
                     y: Self.fit(box.y, length: size.height, limit: imageHeight), width: size.width, height: size.height), 1)
    }

    private static func isInside(_ rect: Rect, _ width: Int, _ height: Int) -> Bool {
        rect.x >= 0 && rect.y >= 0 && rect.maxX <= width && rect.maxY <= height
    }

    private static func isFree(_ rect: Rect, of occupied: [Rect]) -> Bool {
        !occupied.contains { $0.intersection(rect) != nil }
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
