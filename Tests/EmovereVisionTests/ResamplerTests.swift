import Testing
import EmovereVision

struct ResamplerTests {
    @Test func halvingAveragesTwoByTwoBlocks() {
        let image = GrayImage(width: 4, height: 4, pixels: (0..<16).map { UInt8($0 * 4) })
        let small = image.resized(width: 2, height: 2)
        // (0 + 4 + 16 + 20) / 4 = 10, (8 + 12 + 24 + 28) / 4 = 18, ...
        #expect(small.pixels == [10, 18, 42, 50])
    }

    @Test func fractionalShrinkWeighsByCoveredArea() {
        let image = GrayImage(width: 3, height: 1, pixels: [0, 90, 180])
        // Output pixels cover source [0, 1.5) and [1.5, 3): (0 + 0.5 * 90) / 1.5 = 30, (0.5 * 90 + 180) / 1.5 = 150.
        #expect(image.resized(width: 2, height: 1).pixels == [30, 150])
    }

    @Test func enlargingIsBilinearWithHalfPixelCentres() {
        let image = GrayImage(width: 2, height: 1, pixels: [0, 100])
        // Source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
        #expect(image.resized(width: 4, height: 1).pixels == [0, 25, 75, 100])
        let column = GrayImage(width: 1, height: 2, pixels: [0, 100])
        #expect(column.resized(width: 1, height: 4).pixels == [0, 25, 75, 100])
    }

    @Test func sameSizeIsIdentityAndConstantStaysConstant() {
        let image = GrayImage(width: 5, height: 3, pixels: (0..<15).map { UInt8($0 * 17) })
        #expect(image.resized(width: 5, height: 3) == image)
        let flat = GrayImage(width: 97, height: 61, value: 123)
        #expect(flat.resized(width: 48, height: 48).pixels.allSatisfy { $0 == 123 })
        #expect(flat.resized(width: 200, height: 130).pixels.allSatisfy { $0 == 123 })
    }

    @Test func rgbChannelsAreResampledIndependently() {
        var image = RGBImage(width: 2, height: 2)
        image[0, 0] = (200, 0, 40)
        image[1, 0] = (100, 40, 40)
        image[0, 1] = (0, 80, 40)
        image[1, 1] = (100, 120, 40)
        let small = image.resized(width: 1, height: 1)
        #expect(small.pixels == [100, 60, 40])
    }

    @Test func pixelDuplicatedImageShrinksBackExactly() {
        let original = GrayImage(width: 6, height: 5, pixels: (0..<30).map { UInt8(($0 * 37) % 256) })
        var doubled = GrayImage(width: 12, height: 10)
        for y in 0..<10 { for x in 0..<12 { doubled[x, y] = original[x / 2, y / 2] } }
        #expect(doubled.resized(width: 6, height: 5) == original)
    }
}
