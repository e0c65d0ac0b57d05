import Testing
@testable import EmovereVision

struct ExifOrientationTests {
    @Test func orientationSixRotatesClockwise() throws {
        // 3 x 2 blocks of 8x8, block (bx, by) = 20 + 40 * (by * 3 + bx).
        let value: (Int, Int) -> UInt8 = { bx, by in UInt8(20 + 40 * (by * 3 + bx)) }
        let image = TestImages.blocks(columns: 3, rows: 2, value: value)
        let jpeg = TestImages.insertingExifOrientation(6, into: try image.jpegData(quality: 100))
        #expect(ExifOrientation(jpeg: jpeg) == .right)
        let decoded = try GrayImage(decoding: jpeg, source: "rotated.jpg")
        #expect(decoded.width == 16 && decoded.height == 24)
        // Rotating 90 degrees clockwise: output block (ox, oy) shows input block (oy, rows - 1 - ox).
        for oy in 0..<3 {
            for ox in 0..<2 {
                let expected = Int(value(oy, 1 - ox))
                let found = Int(decoded[ox * 8 + 4, oy * 8 + 4])
                #expect(abs(found - expected) <= 3, "block (\(ox), \(oy)): expected \(expected), found \(found)")
            }
        }
        let color = try RGBImage(decoding: jpeg, source: "rotated.jpg")
        #expect(color.width == 16 && color.height == 24)
    }

    @Test func littleEndianExifIsRead() throws {
        let jpeg = TestImages.insertingExifOrientation(8, into: try TestImages.gradient(width: 16, height: 8).jpegData(),
                                                       littleEndian: true)
        #expect(ExifOrientation(jpeg: jpeg) == .left)
        let decoded = try GrayImage(decoding: jpeg, source: "left.jpg")
        #expect(decoded.width == 8 && decoded.height == 16)
    }

    @Test func allOrientationsMapPixelsLikeExifSpecifies() {
        // [1 2 3; 4 5 6]
        let input = ImageCodec.DecodedImage(width: 3, height: 2, layout: .gray, pixels: [1, 2, 3, 4, 5, 6])
        let expected: [ExifOrientation: (Int, [UInt8])] = [
            .up: (3, [1, 2, 3, 4, 5, 6]),
            .upMirrored: (3, [3, 2, 1, 6, 5, 4]),
            .down: (3, [6, 5, 4, 3, 2, 1]),
            .downMirrored: (3, [4, 5, 6, 1, 2, 3]),
            .leftMirrored: (2, [1, 4, 2, 5, 3, 6]),
            .right: (2, [4, 1, 5, 2, 6, 3]),
            .rightMirrored: (2, [6, 3, 5, 2, 4, 1]),
            .left: (2, [3, 6, 2, 5, 1, 4]),
        ]
        for orientation in ExifOrientation.allCases {
            let output = ImageCodec.oriented(input, orientation)
            let (width, pixels) = expected[orientation]!
            #expect(output.width == width, "\(orientation)")
            #expect(output.pixels == pixels, "\(orientation)")
        }
    }

    @Test func rgbOrientationMovesWholePixels() {
        let input = ImageCodec.DecodedImage(width: 2, height: 1, layout: .rgb, pixels: [1, 2, 3, 4, 5, 6])
        let output = ImageCodec.oriented(input, .right)
        #expect(output.width == 1 && output.height == 2)
        #expect(output.pixels == [1, 2, 3, 4, 5, 6])
        #expect(ImageCodec.oriented(input, .upMirrored).pixels == [4, 5, 6, 1, 2, 3])
    }

    @Test func garbageExifIsIgnored() throws {
        let jpeg = try TestImages.gradient(width: 8, height: 8).jpegData()
        // An APP1 segment whose TIFF offset points far outside the payload.
        var broken = TestImages.insertingExifOrientation(6, into: jpeg)
        broken[2 + 4 + 6 + 4 ..< 2 + 4 + 6 + 8] = [0xFF, 0xFF, 0xFF, 0xF0]
        #expect(ExifOrientation(jpeg: broken) == nil)
        #expect(try GrayImage(decoding: broken, source: "odd.jpg").width == 8)
        #expect(ExifOrientation(jpeg: [0xFF, 0xD8, 0xFF, 0xE1, 0x00]) == nil)
        #expect(ExifOrientation(jpeg: [0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 0x45]) == nil)
        // Orientation 9 is not defined: ignored.
        #expect(ExifOrientation(jpeg: TestImages.insertingExifOrientation(9, into: jpeg)) == nil)
    }
}
