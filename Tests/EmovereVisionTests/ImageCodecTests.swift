import Testing
@testable import EmovereVision

struct ImageCodecTests {
    @Test func grayPNGRoundTripIsExact() throws {
        let image = TestImages.gradient(width: 37, height: 23)
        let encoded = try image.pngData()
        #expect(ImageFormat(sniffing: encoded) == .png)
        let decoded = try GrayImage(decoding: encoded, source: "gray.png")
        #expect(decoded == image)
    }

    @Test func rgbPNGRoundTripIsExact() throws {
        let image = TestImages.colorGradient(width: 19, height: 31)
        let decoded = try RGBImage(decoding: try image.pngData(), source: "rgb.png")
        #expect(decoded == image)
    }

    @Test func grayJPEGRoundTripIsClose() throws {
        let image = TestImages.gradient(width: 48, height: 48)
        let encoded = try image.jpegData(quality: 95)
        #expect(ImageFormat(sniffing: encoded) == .jpeg)
        let decoded = try GrayImage(decoding: encoded, source: "gray.jpg")
        #expect(decoded.width == 48 && decoded.height == 48)
        #expect(TestImages.maximumDifference(decoded.pixels, image.pixels) <= 6)
    }

    @Test func rgbJPEGRoundTripIsClose() throws {
        let image = TestImages.colorGradient(width: 40, height: 24)
        let decoded = try RGBImage(decoding: try image.jpegData(quality: 95), source: "rgb.jpg")
        #expect(decoded.width == 40 && decoded.height == 24)
        #expect(TestImages.maximumDifference(decoded.pixels, image.pixels) <= 12)
    }

    /// A JPEG over `maximumDecodedPixels` decodes at the largest n/8 scale that fits (here 3/8: 4/8 would give
    /// 120,000 pixels), close to the stored image resized, and remembers its stored size; PNG decodes whole.
    @Test func largeJPEGDecodesAtAReducedScale() throws {
        let image = TestImages.gradient(width: 800, height: 600)
        let limits = ImageLimits(maximumDecodedPixels: 100_000)
        let jpeg = try image.jpegData(quality: 95)
        let decoded = try ImageCodec.decode(jpeg, layout: .gray, source: "large.jpg", limits: limits)
        #expect(decoded.width == 300 && decoded.height == 225)
        #expect(decoded.storedWidth == 800 && decoded.storedHeight == 600)
        let expected = image.resized(width: 300, height: 225)
        #expect(TestImages.maximumDifference(decoded.pixels, expected.pixels) <= 12)
        let full = try ImageCodec.decode(jpeg, layout: .gray, source: "large.jpg")
        #expect(full.width == 800 && full.storedWidth == 800)
        let png = try ImageCodec.decode(try image.pngData(), layout: .gray, source: "large.png", limits: limits)
        #expect(png.width == 800 && png.height == 600 && png.storedWidth == 800)
    }

    /// The largest scale under the target (6/8 would give 270,000 pixels); when even 1/8 is over the target, 1/8
    /// (rounded up, as libjpeg-turbo does).
    @Test func reducedSizeFallsBackToTheSmallestScale() {
        let size = ImageCodec.reducedSize(width: 801, height: 600, target: 1)
        #expect(size.width == 101 && size.height == 75)
        let fiveEighths = ImageCodec.reducedSize(width: 800, height: 600, target: 240_000)
        #expect(fiveEighths.width == 500 && fiveEighths.height == 375)
    }

    @Test func colorFilesDecodeToGrayWithLumaWeights() throws {
        let image = RGBImage(width: 8, height: 8, red: 200, green: 100, blue: 50)
        let gray = try GrayImage(decoding: try image.pngData(), source: "color.png")
        // 0.299 * 200 + 0.587 * 100 + 0.114 * 50 = 124.2
        #expect(gray.pixels.allSatisfy { $0 == 124 })
        #expect(image.grayscale().pixels.allSatisfy { $0 == 124 })
    }

    @Test func emptyInputIsReportedAsEmpty() {
        #expect(throws: VisionError.empty(source: "nothing.png")) {
            try GrayImage(decoding: [], source: "nothing.png")
        }
    }

    @Test func garbageIsReportedAsUnsupportedFormat() {
        let garbage: [UInt8] = Array("BM not an image at all".utf8)
        #expect(throws: VisionError.unsupportedFormat(source: "x.bin", leadingBytes: Array(garbage.prefix(8)))) {
            try GrayImage(decoding: garbage, source: "x.bin")
        }
        let message = VisionError.unsupportedFormat(source: "x.bin", leadingBytes: [0x42, 0x4D]).description
        #expect(message.contains("x.bin") && message.contains("42 4D") && message.contains("expected"))
    }

    @Test(arguments: [ImageFormat.png, .jpeg])
    func truncatedFilesAreCorrupt(format: ImageFormat) throws {
        let image = TestImages.gradient(width: 64, height: 64)
        let encoded = format == .png ? try image.pngData() : try image.jpegData()
        let truncated = Array(encoded.prefix(encoded.count * 6 / 10))
        do {
            _ = try GrayImage(decoding: truncated, source: "cut.\(format.rawValue)")
            Issue.record("a truncated \(format) decoded without error")
        } catch let error {
            guard case let .corrupt(source, reason) = error else {
                Issue.record("expected .corrupt, got \(error)")
                return
            }
            #expect(source == "cut.\(format.rawValue)")
            #expect(!reason.isEmpty)
        }
    }

    @Test func signatureOnlyIsCorrupt() {
        #expect(throws: VisionError.self) { try GrayImage(decoding: [0xFF, 0xD8, 0xFF], source: "a.jpg") }
        #expect(throws: VisionError.self) {
            try GrayImage(decoding: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], source: "a.png")
        }
    }

    @Test(arguments: [ImageFormat.png, .jpeg])
    func oversizedHeadersAreRejectedBeforeDecoding(format: ImageFormat) throws {
        let image = TestImages.gradient(width: 40, height: 30)
        let encoded = format == .png ? try image.pngData() : try image.jpegData()
        let limits = ImageLimits(maximumPixels: 1000)
        #expect(throws: VisionError.tooLarge(source: "big", width: 40, height: 30, limit: 1000)) {
            try GrayImage(decoding: encoded, source: "big", limits: limits)
        }
        #expect(throws: VisionError.tooLarge(source: "big", width: 40, height: 30, limit: 1000)) {
            try RGBImage(decoding: encoded, source: "big", limits: limits)
        }
    }

    @Test func forgedPNGDimensionsAreRejected() throws {
        // Rewrite the IHDR width/height to 100000 x 100000 (CRC left stale: the size check comes first
        // or libpng rejects the CRC; either way it must be an error, never an allocation of 10 GB).
        var encoded = try TestImages.gradient(width: 4, height: 4).pngData()
        for offset in [16, 20] { encoded.replaceSubrange(offset..<offset + 4, with: [0x00, 0x01, 0x86, 0xA0]) }
        #expect(throws: VisionError.self) { try GrayImage(decoding: encoded, source: "bomb.png") }
    }

    /// 16-bit samples are reduced to their stored 8-bit values (as OpenCV reads them), not gamma-encoded as if they
    /// were linear light: a 16-bit 32896 (128 * 257) is 128, not 186.
    @Test func sixteenBitPNGKeepsItsValues() throws {
        let samples: [UInt16] = [0, 32896, 65535, 257 * 200]
        let png = Self.sixteenBitGrayPNG(width: 2, height: 2, samples: samples)
        #expect(try GrayImage(decoding: png, source: "16-bit.png").pixels == [0, 128, 255, 200])
        #expect(try RGBImage(decoding: png, source: "16-bit.png").pixels == [0, 0, 0, 128, 128, 128, 255, 255, 255, 200, 200, 200])
    }

    /// A 16-bit grayscale PNG written by hand (Emovere writes 8-bit ones): IHDR, one IDAT of stored (uncompressed)
    /// deflate blocks, IEND.
    static func sixteenBitGrayPNG(width: Int, height: Int, samples: [UInt16]) -> [UInt8] {
        func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
        func crc32(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return ~crc
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
        }
        var raw: [UInt8] = []  // each row: filter type 0, then big-endian samples
        for row in 0..<height {
            raw.append(0)
            for sample in samples[(row * width)..<((row + 1) * width)] { raw += [UInt8(sample >> 8), UInt8(sample & 0xFF)] }
        }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        let length = UInt16(raw.count)
        let zlib: [UInt8] = [0x78, 0x01, 0x01, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF),
                             UInt8(~length >> 8)] + raw + bigEndian(b << 16 | a)
        let header = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [16, 0, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib)
            + chunk("IEND", [])
    }

    @Test func missingFileIsUnreadable() {
        do {
            _ = try GrayImage(contentsOf: "/nonexistent/emovere/face.png")
            Issue.record("expected an error")
        } catch let error {
            guard case let .unreadable(path, _) = error else {
                Issue.record("expected .unreadable, got \(error)")
                return
            }
            #expect(path == "/nonexistent/emovere/face.png")
            #expect(error.description.contains("/nonexistent/emovere/face.png"))
        }
    }
}

/// CMYK JPEGs (print and Photoshop workflows) decode as OpenCV decodes them.
struct CMYKJPEGTests {
    /// 16x8, two solid 8x8 blocks stored as CMYK (200, 100, 50, 255) and (255, 255, 255, 128): `cmyk.jpg` in YCCK
    /// (what libturbojpeg writes for CMYK), `cmyk-plain.jpg` in plain CMYK (libjpeg). OpenCV 4 (`cv2.imdecode`) reads
    /// RGB (201, 101, 51) and (128, 128, 128) from both, and luma 125 and 128 with IMREAD_GRAYSCALE.
    @Test(arguments: ["cmyk.jpg", "cmyk-plain.jpg"])
    func cmykFileDecodesLikeOpenCV(file: String) throws {
        let path = HaarFixtures.path(file)
        let color = try RGBImage(contentsOf: path)
        #expect(color.width == 16 && color.height == 8)
        #expect(Array(color.pixels[0..<3]) == [201, 101, 51])
        #expect(Array(color.pixels[(8 * 3)..<(8 * 3 + 3)]) == [128, 128, 128])
        let gray = try GrayImage(contentsOf: path)
        #expect(gray.pixels[0] == 125 && gray.pixels[8] == 128)
    }
}
