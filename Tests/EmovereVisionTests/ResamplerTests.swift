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

    /// Model inputs resample as pixels do, without rounding: 64 to 48 (area) and 48 to 64 (bilinear) of two
    /// images at once give the 8-bit result once rounded, and an affine preprocessing commutes with resampling.
    @Test func floatImagesResampleAsPixelsWithoutRounding() {
        for (size, newSize) in [(64, 48), (48, 64), (12, 12)] {
            let images = (0..<2).map { (image: Int) -> GrayImage in
                let pixels = (0..<size * size).map { (index: Int) -> UInt8 in UInt8(truncatingIfNeeded: index &* 37 ^ (index >> 3) &+ image &* 91) }
                return GrayImage(width: size, height: size, pixels: pixels)
            }
            let input = images.flatMap { $0.pixels.map { Float($0) / 127.5 - 1 } }
            var output = [Float](repeating: .nan, count: 2 * newSize * newSize)
            input.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { output in
                    FloatImageResampling.resample(input.baseAddress!, count: 2, size: size, to: newSize,
                                                  into: output.baseAddress!)
                }
            }
            let expected = images.flatMap { $0.resized(width: newSize, height: newSize).pixels }
            // An unwritten (NaN) output is the largest difference: `max` alone skips NaN after the first element.
            let largest = zip(output, expected).map { (value: Float, pixel: UInt8) -> Float in
                value.isNaN ? .infinity : abs((value + 1) * 127.5 - Float(pixel))
            }.max()!
            #expect(largest <= 0.5 + 1e-3, "\(size) to \(newSize): largest difference \(largest) grey levels")
            #expect(size != newSize || output == input)
        }
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
