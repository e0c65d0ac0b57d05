import Testing
import EmovereVision

struct RectTests {
    /// Crops that reach past the image, on any side or wholly outside it, against a pixel-by-pixel twin that
    /// clamps each coordinate to the image.
    @Test func croppingExtendingEdgesMatchesItsReference() {
        let image = GrayImage(width: 7, height: 5, pixels: (0..<35).map { UInt8($0 * 7) })
        for x in [-12, -3, 0, 2, 6, 7, 10] {
            for width in [1, 3, 9, 30] {
                for (y, height) in [(-4, 3), (1, 2), (3, 6), (6, 2)] {
                    let rect = Rect(x: x, y: y, width: width, height: height)
                    var expected = [UInt8]()
                    for row in y..<(y + height) {
                        for column in x..<(x + width) {
                            expected.append(image[min(max(column, 0), 6), min(max(row, 0), 4)])
                        }
                    }
                    #expect(image.croppedExtendingEdges(to: rect).pixels == expected, "\(rect)")
                }
            }
        }
    }

    @Test func clampingKeepsTheInsidePart() {
        #expect(Rect(x: -5, y: 3, width: 20, height: 10).clamped(toWidth: 10, height: 8) == Rect(x: 0, y: 3, width: 10, height: 5))
        #expect(Rect(x: 20, y: 20, width: 5, height: 5).clamped(toWidth: 10, height: 10).isEmpty)
        #expect(Rect(x: 2, y: 2, width: 3, height: 3).clamped(toWidth: 10, height: 10) == Rect(x: 2, y: 2, width: 3, height: 3))
    }

    @Test func expandingGrowsAboutTheCentre() {
        #expect(Rect(x: 10, y: 20, width: 40, height: 20).expanded(byFraction: 0.25) == Rect(x: 0, y: 15, width: 60, height: 30))
        #expect(Rect(x: 10, y: 10, width: 10, height: 10).expanded(byFraction: -0.2) == Rect(x: 12, y: 12, width: 6, height: 6))
    }

    @Test func intersectionAndIoU() {
        let a = Rect(x: 0, y: 0, width: 10, height: 10), b = Rect(x: 5, y: 0, width: 10, height: 10)
        #expect(a.intersection(b) == Rect(x: 5, y: 0, width: 5, height: 10))
        #expect(abs(a.intersectionOverUnion(b) - 50.0 / 150.0) < 1e-12)
        #expect(a.intersectionOverUnion(a) == 1)
        #expect(a.intersection(Rect(x: 10, y: 0, width: 5, height: 5)) == nil)
        #expect(a.intersectionOverUnion(Rect(x: 20, y: 20, width: 5, height: 5)) == 0)
    }

    @Test func croppingClampsToTheFrame() {
        let image = GrayImage(width: 4, height: 3, pixels: Array(0..<12))
        let inside = image.cropped(to: Rect(x: 1, y: 1, width: 2, height: 2))
        #expect(inside == GrayImage(width: 2, height: 2, pixels: [5, 6, 9, 10]))
        let overhanging = image.cropped(to: Rect(x: 2, y: -4, width: 10, height: 6))
        #expect(overhanging == GrayImage(width: 2, height: 2, pixels: [2, 3, 6, 7]))
        let outside = image.cropped(to: Rect(x: 9, y: 9, width: 3, height: 3))
        #expect(outside.width == 0 && outside.height == 0)
        let color = image.rgb().cropped(to: Rect(x: 3, y: 2, width: 5, height: 5))
        #expect(color.pixels == [11, 11, 11])
    }
}
