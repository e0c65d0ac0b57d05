import EmovereVision
import Testing

struct DrawingTests {
    static let background = RGBColor(red: 10, green: 20, blue: 30)
    static let red = RGBColor(red: 255, green: 0, blue: 0)

    static func canvas(width: Int = 20, height: Int = 16) -> RGBImage {
        RGBImage(width: width, height: height, red: background.red, green: background.green, blue: background.blue)
    }

    /// The set of (x, y) pixels that differ from the background.
    static func painted(_ image: RGBImage) -> Set<[Int]> {
        var result: Set<[Int]> = []
        for y in 0..<image.height {
            for x in 0..<image.width {
                let pixel = image[x, y]
                if pixel.red != background.red || pixel.green != background.green || pixel.blue != background.blue {
                    result.insert([x, y])
                }
            }
        }
        return result
    }

    /// Every pixel of `rect` clipped to the frame, as (x, y).
    static func pixels(in rect: Rect, width: Int, height: Int) -> Set<[Int]> {
        var result: Set<[Int]> = []
        for y in max(rect.y, 0)..<max(min(rect.maxY, height), max(rect.y, 0)) {
            for x in max(rect.x, 0)..<max(min(rect.maxX, width), max(rect.x, 0)) { result.insert([x, y]) }
        }
        return result
    }

    // MARK: - Rectangles

    @Test func outlineCoversExactlyTheBorderPixels() {
        var image = Self.canvas()
        image.drawRectangle(Rect(x: 2, y: 3, width: 6, height: 5), color: Self.red)
        var expected: Set<[Int]> = []
        for x in 2..<8 { expected.insert([x, 3]); expected.insert([x, 7]) }
        for y in 3..<8 { expected.insert([2, y]); expected.insert([7, y]) }
        #expect(Self.painted(image) == expected)
        #expect(image[2, 3] == (255, 0, 0))
        #expect(image[4, 5] == (10, 20, 30))
    }

    @Test func thickOutlineIsDrawnInsideTheRectangle() {
        var image = Self.canvas()
        let rect = Rect(x: 1, y: 1, width: 10, height: 9)
        image.drawRectangle(rect, color: Self.red, thickness: 2)
        let inner = Self.pixels(in: Rect(x: 3, y: 3, width: 6, height: 5), width: 20, height: 16)
        #expect(Self.painted(image) == Self.pixels(in: rect, width: 20, height: 16).subtracting(inner))
    }

    @Test func outlineThickerThanHalfTheSideFillsTheRectangle() {
        var image = Self.canvas()
        let rect = Rect(x: 4, y: 4, width: 5, height: 3)
        image.drawRectangle(rect, color: Self.red, thickness: 2)
        #expect(Self.painted(image) == Self.pixels(in: rect, width: 20, height: 16))
    }

    @Test func outlinePartlyOutsideDrawsOnlyItsVisibleEdges() {
        var image = Self.canvas()
        // Left and top edges are outside the frame; the right edge is column 4, the bottom edge row 3.
        image.drawRectangle(Rect(x: -3, y: -2, width: 8, height: 6), color: Self.red)
        var expected: Set<[Int]> = []
        for x in 0..<5 { expected.insert([x, 3]) }
        for y in 0..<4 { expected.insert([4, y]) }
        #expect(Self.painted(image) == expected)

        var corner = Self.canvas()
        // Right and bottom edges beyond the frame: only the top row and left column of the visible part.
        corner.drawRectangle(Rect(x: 15, y: 12, width: 10, height: 10), color: Self.red)
        var cornerExpected: Set<[Int]> = []
        for x in 15..<20 { cornerExpected.insert([x, 12]) }
        for y in 12..<16 { cornerExpected.insert([15, y]) }
        #expect(Self.painted(corner) == cornerExpected)
    }

    @Test func shapesFullyOutsideOrDegenerateDrawNothing() {
        var image = Self.canvas()
        let rects = [
            Rect(x: 20, y: 0, width: 5, height: 5), Rect(x: -5, y: 0, width: 5, height: 5),
            Rect(x: 0, y: 16, width: 5, height: 5), Rect(x: 0, y: -9, width: 5, height: 9),
            Rect(x: 3, y: 3, width: 0, height: 5), Rect(x: 3, y: 3, width: -4, height: -4),
            Rect(x: Int.max - 1, y: Int.max - 1, width: Int.max, height: Int.max),
            Rect(x: Int.min, y: Int.min, width: 10, height: 10),
        ]
        for rect in rects {
            image.drawRectangle(rect, color: Self.red, thickness: 3)
            image.fillRectangle(rect, color: Self.red)
            image.drawBar(value: 1, in: rect, color: Self.red, trackColor: .white)
        }
        image.drawRectangle(Rect(x: 2, y: 2, width: 5, height: 5), color: Self.red, thickness: 0)
        image.drawText("far", x: 1000, y: 1000, color: Self.red, scale: 3)
        image.drawText("far", x: -1000, y: 2, color: Self.red, scale: 3)
        image.drawText("huge", x: Int.min, y: Int.max, color: Self.red, scale: Int.max)
        image.drawLabel("x", x: Int.max, y: Int.min, textColor: .white, background: Self.red, scale: 5)
        #expect(Self.painted(image).isEmpty)

        var empty = RGBImage(width: 0, height: 0, pixels: [])
        empty.fillRectangle(Rect(x: 0, y: 0, width: 5, height: 5), color: Self.red)
        empty.drawText("abc", x: 0, y: 0, color: Self.red)
        #expect(empty.pixels.isEmpty)
    }

    @Test func hugeRectangleCoveringTheFrameFillsItAndKeepsItsBorderOutside() {
        var image = Self.canvas()
        image.drawRectangle(Rect(x: -100, y: -100, width: 1000, height: 1000), color: Self.red, thickness: 5)
        #expect(Self.painted(image).isEmpty)
        image.fillRectangle(Rect(x: Int.min / 2, y: -1, width: Int.max, height: Int.max), color: Self.red)
        #expect(Self.painted(image).count == 20 * 16)
    }

    @Test func fillBlendsWithOpacity() {
        var image = RGBImage(width: 2, height: 1, red: 100, green: 0, blue: 200)
        image.fillRectangle(Rect(x: 1, y: 0, width: 1, height: 1), color: RGBColor(red: 200, green: 255, blue: 0),
                            opacity: 0.5)
        #expect(image[0, 0] == (100, 0, 200))
        #expect(image[1, 0] == (150, 128, 100))
        image.fillRectangle(Rect(x: 0, y: 0, width: 2, height: 1), color: Self.red, opacity: 0)
        #expect(image[0, 0] == (100, 0, 200))
        image.fillRectangle(Rect(x: 0, y: 0, width: 2, height: 1), color: Self.red, opacity: .nan)
        #expect(image[0, 0] == (100, 0, 200))
    }

    /// An image drawn over a turned region follows its turn: a red-over-blue picture (red on its first row) drawn
    /// over a 10x6 region turned a quarter clockwise lies on its side, red on the right (where the region's top
    /// went), blue on the left, nothing outside the 6x10 box; unturned it is stretched over the rectangle as
    /// `drawImage(_:x:y:)` draws it, and half opacity blends.
    @Test func imageOverATurnedRegion() {
        let picture = RGBImage(width: 1, height: 2, pixels: [255, 0, 0, 0, 0, 255])
        var turned = Self.canvas()
        let region = ImageRegion(rect: Rect(x: 5, y: 5, width: 10, height: 6), angle: .pi / 2)
        turned.drawImage(picture, over: region, opacity: 1)
        #expect(Self.painted(turned) == Self.pixels(in: Rect(x: 7, y: 3, width: 6, height: 10), width: 20, height: 16))
        #expect(turned[12, 8] == (255, 0, 0) && turned[7, 8] == (0, 0, 255))
        var unturned = Self.canvas(), reference = Self.canvas()
        unturned.drawImage(picture, over: ImageRegion(rect: Rect(x: 2, y: 3, width: 4, height: 6)), opacity: 0.5)
        reference.drawImage(picture.resized(width: 4, height: 6), x: 2, y: 3, opacity: 0.5)
        #expect(unturned == reference && unturned[3, 4] == (133, 10, 15))
    }

    // MARK: - Text

    @Test func builtInFontCoversPrintableASCII() throws {
        let font = BitmapFont.standard
        #expect(font.glyphWidth == 5 && font.glyphHeight == 8 && font.advance == 6)
        for value in UInt32(33)...126 {
            let scalar = try #require(Unicode.Scalar(value))
            var count = 0
            for row in 0..<font.glyphHeight {
                for column in 0..<font.glyphWidth where font.isSet(scalar, column: column, row: row) { count += 1 }
            }
            #expect(count > 0, "glyph \(value) '\(Character(scalar))' is blank")
        }
        // Distinct letters and digits look different.
        func bitmap(_ character: Unicode.Scalar) -> [Bool] {
            (0..<40).map { font.isSet(character, column: $0 % 5, row: $0 / 5) }
        }
        let alphanumerics = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".unicodeScalars)
        #expect(Set(alphanumerics.map(bitmap)).count == alphanumerics.count)
        // Capitals stand on the baseline and leave the descender row free; "g" and "y" descend.
        #expect((0..<5).allSatisfy { !font.isSet("E", column: $0, row: 7) })
        #expect((0..<5).contains { font.isSet("E", column: $0, row: 6) })
        #expect((0..<5).contains { font.isSet("g", column: $0, row: 7) })
        #expect((0..<5).contains { font.isSet("y", column: $0, row: 7) })
        // Characters outside the font are drawn as "?".
        #expect(bitmap("é") == bitmap("?"))
    }

    @Test func textPaintsOnlyInsideItsBoundsAtEveryScale() {
        for scale in [1, 2, 3] {
            var image = Self.canvas(width: 200, height: 40)
            let bounds = image.drawText("Happy 87%", x: 3, y: 5, color: Self.red, scale: scale)
            #expect(bounds == Rect(x: 3, y: 5, width: (9 * 6 - 1) * scale, height: 8 * scale))
            let painted = Self.painted(image)
            #expect(!painted.isEmpty)
            let inside = Self.pixels(in: bounds, width: 200, height: 40)
            #expect(painted.isSubset(of: inside), "scale \(scale): text painted outside its bounds")
            // Each glyph pixel is a full scale x scale block of the text colour.
            #expect(painted.allSatisfy { image[$0[0], $0[1]] == (255, 0, 0) })
            #expect(painted.count % (scale * scale) == 0)
            // The "H" fills the first column of its cell from the top to the baseline.
            #expect(painted.contains([3, 5]) && painted.contains([3, 5 + 7 * scale - 1]))
            #expect(!painted.contains([3, 5 + 7 * scale]))
        }
    }

    @Test func textMatchesTheGlyphBitsPixelForPixel() {
        var image = Self.canvas(width: 12, height: 8)
        image.drawText("A1", x: 0, y: 0, color: Self.red)
        let font = BitmapFont.standard
        for y in 0..<8 {
            for x in 0..<12 {
                let expected = x < 5 ? font.isSet("A", column: x, row: y)
                    : x >= 6 && x < 11 ? font.isSet("1", column: x - 6, row: y) : false
                #expect((image[x, y] == (255, 0, 0)) == expected, "pixel \(x), \(y)")
            }
        }
    }

    @Test func textCutByTheFrameDrawsItsVisiblePart() {
        var whole = Self.canvas(width: 40, height: 20)
        whole.drawText("Wow", x: 10, y: 4, color: Self.red, scale: 2)
        var cut = Self.canvas(width: 40, height: 20)
        cut.drawText("Wow", x: 10 - 45, y: 4 - 20, color: Self.red, scale: 2)
        // Shifting the text left by 45 and up by 20 shows the same pixels, shifted, where they stay in the frame.
        let shifted = Set(Self.painted(whole).map { [$0[0] - 45, $0[1] - 20] }
            .filter { $0[0] >= 0 && $0[1] >= 0 && $0[0] < 40 && $0[1] < 20 })
        #expect(Self.painted(cut) == shifted)

        var edge = Self.canvas(width: 10, height: 6)
        edge.drawText("MMMM", x: 4, y: 2, color: Self.red, scale: 2) // runs off the right and bottom edges
        #expect(!Self.painted(edge).isEmpty)
    }

    @Test func labelFillsItsBoxAndDrawsTheText() {
        var image = Self.canvas(width: 40, height: 20)
        let box = image.drawLabel("ok", x: 2, y: 3, textColor: .white, background: Self.red, scale: 1)
        #expect(box == Rect(x: 2, y: 3, width: 11 + 2, height: 8 + 2))
        #expect(Self.painted(image) == Self.pixels(in: box, width: 40, height: 20))
        #expect(image[2, 3] == (255, 0, 0))
        var whitePixels = 0
        for y in box.y..<box.maxY { for x in box.x..<box.maxX where image[x, y] == (255, 255, 255) { whitePixels += 1 } }
        #expect(whitePixels > 10)
    }

    // MARK: - Bars

    @Test func barLengthIsProportionalToTheValue() {
        for (value, expected) in [(0.0, 0), (0.25, 25), (0.5, 50), (0.874, 87), (1.0, 100), (1.7, 100), (-0.3, 0),
                                  (Double.nan, 0)] {
            var image = Self.canvas(width: 120, height: 10)
            image.drawBar(value: value, in: Rect(x: 10, y: 2, width: 100, height: 4), color: Self.red,
                          trackColor: .white)
            var filled = 0, track = 0
            for x in 0..<120 {
                if image[x, 3] == (255, 0, 0) { filled += 1 }
                if image[x, 3] == (255, 255, 255) { track += 1 }
            }
            #expect(filled == expected, "value \(value)")
            #expect(filled + track == 100, "value \(value)")
            if expected > 0 {
                #expect(image[10, 2] == (255, 0, 0) && image[10 + expected - 1, 5] == (255, 0, 0))
            }
            #expect(image[10, 1] == (10, 20, 30) && image[10, 6] == (10, 20, 30) && image[9, 3] == (10, 20, 30))
        }
    }

    @Test func probabilityBarRowShowsLabelBarAndPercentage() {
        let style = ProbabilityBarStyle(scale: 2, labelCharacters: 8, barLength: 40, textColor: .white,
                                        barColor: Self.red, trackColor: RGBColor(red: 0, green: 0, blue: 255))
        let size = style.rowSize
        #expect(size.width == (8 * 6 + 6 + 40 + 6 + 23) * 2 && size.height == 16)
        var image = Self.canvas(width: 300, height: 30)
        let row = image.drawProbabilityBar(label: "happy", value: 0.75, x: 5, y: 4, style: style)
        #expect(row == Rect(x: 5, y: 4, width: size.width, height: size.height))
        let painted = Self.painted(image)
        #expect(painted.isSubset(of: Self.pixels(in: row, width: 300, height: 30)))
        // The bar starts after the label column and a gap; 75 % of 80 pixels is 60 red, then 20 blue.
        let barStart = 5 + (8 * 6 + 6) * 2, barRow = 4 + 8
        var red = 0, blue = 0
        for x in barStart..<(barStart + 80) {
            if image[x, barRow] == (255, 0, 0) { red += 1 }
            if image[x, barRow] == (0, 0, 255) { blue += 1 }
        }
        #expect(red == 60 && blue == 20)
        #expect(image[barStart + 59, barRow] == (255, 0, 0) && image[barStart + 60, barRow] == (0, 0, 255))
        // White text on both sides of the bar: the label and "75%".
        let whiteColumns = Set(painted.filter { image[$0[0], $0[1]] == (255, 255, 255) }.map { $0[0] })
        #expect(whiteColumns.contains { $0 < barStart } && whiteColumns.contains { $0 >= barStart + 80 })
        #expect(ProbabilityBarStyle.percentText(0.75) == "75%" && ProbabilityBarStyle.percentText(1) == "100%")
    }

    @Test func colourPicksReadableTextColour() {
        #expect(RGBColor(red: 255, green: 205, blue: 30).contrastingTextColor == .black)
        #expect(RGBColor(red: 60, green: 130, blue: 240).contrastingTextColor == .white)
        #expect(RGBColor(red: 255, green: 0, blue: 16).description == "#ff0010")
    }
}
