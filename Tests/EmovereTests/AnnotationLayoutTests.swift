import Emovere
import EmovereVision
import Testing

/// Labels and probability panels never cover a face or each other, however crowded the photo.
struct AnnotationLayoutTests {
    static func faces(_ boxes: [Rect]) -> [FaceEmotion] {
        boxes.enumerated().map { index, box in
            var probabilities = [Float](repeating: 0.05, count: 7)
            probabilities[index % 7] = 0.7
            return FaceEmotion(box: box, probabilities: probabilities)
        }
    }

    static func checkNoOverlaps(_ faces: [FaceEmotion], notes: [String?] = [], width: Int,
                                height: Int) -> [AnnotationRenderer.Placement] {
        let layout = AnnotationRenderer().layout(faces, notes: notes, imageWidth: width, imageHeight: height)
        #expect(layout.count == faces.count)
        var placed: [Rect] = []
        for (index, place) in layout.enumerated() {
            for (other, face) in faces.enumerated() where other != index {
                #expect(place.label.intersection(face.box) == nil, "label \(index) covers face \(other)")
            }
            if let panel = place.panel {
                #expect(faces.allSatisfy { $0.box.intersection(panel) == nil }, "panel \(index) covers a face")
                placed.append(panel)
            }
            placed.append(place.label)
            for rect in [place.label] + (place.panel.map { [$0] } ?? []) {
                #expect(rect.x >= 0 && rect.y >= 0 && rect.maxX <= width && rect.maxY <= height, "\(rect) leaves the image")
            }
        }
        for (i, a) in placed.enumerated() {
            for b in placed[(i + 1)...] { #expect(a.intersection(b) == nil, "\(a) overlaps \(b)") }
        }
        return layout
    }

    /// A 1080p street scene: two rows of ten 70-pixel faces 120 pixels apart, and one large face.
    @Test func crowdedStreetSceneHasNoOverlaps() {
        var boxes = (0..<20).map { Rect(x: 40 + ($0 % 10) * 120, y: 300 + ($0 / 10) * 200, width: 70, height: 90) }
        boxes.append(Rect(x: 1400, y: 200, width: 300, height: 380))
        let layout = Self.checkNoOverlaps(Self.faces(boxes), width: 1920, height: 1080)
        #expect(layout.last?.panel != nil, "the large face has room for its panel")
    }

    @Test func lonelyFaceKeepsItsPanelAndLabelAboveTheBox() {
        let box = Rect(x: 200, y: 150, width: 120, height: 150)
        let layout = Self.checkNoOverlaps(Self.faces([box]), width: 640, height: 480)
        let place = layout[0]
        #expect(place.label.maxY == box.y && place.panel?.x == box.maxX + 2 * place.panelScale)
    }

    /// Faces touching the top edge put their label below the box; tightly packed faces drop panels before
    /// covering a face.
    @Test func facesAtTheEdgeAndPackedFacesStayClear() {
        let boxes = (0..<6).map { Rect(x: $0 * 105, y: 0, width: 100, height: 120) }
        let layout = Self.checkNoOverlaps(Self.faces(boxes), width: 630, height: 400)
        #expect(layout.allSatisfy { $0.label.y >= 120 }, "labels go below boxes at the top edge")
    }

    /// A note on a label (`explain`'s `Grad-CAM: sad` for a face explained for another emotion) lengthens it, and
    /// the longer label is placed as any label is: it covers no face, label or panel (it was once drawn under the
    /// box after the layout, over a neighbour's panel).
    @Test func notesLengthenLabelsThatStillStayClear() {
        let boxes = (0..<6).map { Rect(x: 40 + $0 * 150, y: 120, width: 100, height: 120) }
        let notes: [String?] = boxes.indices.map { $0.isMultiple(of: 2) ? "Grad-CAM: sad" : nil }
        let plain = Self.checkNoOverlaps(Self.faces(boxes), width: 960, height: 400)
        let noted = Self.checkNoOverlaps(Self.faces(boxes), notes: notes, width: 960, height: 400)
        for index in boxes.indices where notes[index] != nil {
            #expect(noted[index].label.width > plain[index].label.width || noted[index].labelScale < plain[index].labelScale,
                    "face \(index)")
        }
    }
}
