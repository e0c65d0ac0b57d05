@testable import EmovereVision

/// Deterministic synthetic images shared by the vision tests.
enum TestImages {
    /// A smooth gray gradient (values 20...250), `width` x `height`.
    static func gradient(width: Int, height: Int) -> GrayImage {
        var pixels = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                pixels[y * width + x] = UInt8(20 + x * 150 / max(width - 1, 1) + y * 80 / max(height - 1, 1))
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    /// A smooth colour gradient, `width` x `height`.
    static func colorGradient(width: Int, height: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let index = (y * width + x) * 3
                pixels[index] = UInt8(x * 255 / max(width - 1, 1))
                pixels[index + 1] = UInt8(y * 255 / max(height - 1, 1))
                pixels[index + 2] = UInt8((x + y) * 127 / max(width + height - 2, 1))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// A gray image made of constant 8x8 blocks, block `(bx, by)` = `value(bx, by)`;
    /// block-aligned constant areas survive JPEG nearly exactly.
    static func blocks(columns: Int, rows: Int, value: (Int, Int) -> UInt8) -> GrayImage {
        let width = columns * 8, height = rows * 8
        var pixels = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                pixels[y * width + x] = value(x / 8, y / 8)
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    /// The largest absolute per-byte difference between two equally sized buffers.
    static func maximumDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
        zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    /// `jpeg` with an APP1 Exif segment (big-endian TIFF, one IFD0 entry: orientation) inserted after SOI.
    static func insertingExifOrientation(_ orientation: UInt16, into jpeg: [UInt8], littleEndian: Bool = false) -> [UInt8] {
        func u16(_ value: UInt16) -> [UInt8] {
            littleEndian ? [UInt8(value & 0xFF), UInt8(value >> 8)] : [UInt8(value >> 8), UInt8(value & 0xFF)]
        }
        func u32(_ value: UInt32) -> [UInt8] {
            let bytes = [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
            return littleEndian ? bytes.reversed() : bytes
        }
        var tiff: [UInt8] = littleEndian ? [0x49, 0x49] : [0x4D, 0x4D]
        tiff += u16(42) + u32(8)                // magic, offset of IFD0
        tiff += u16(1)                          // one entry
        tiff += u16(0x0112) + u16(3) + u32(1)   // orientation, SHORT, count 1
        tiff += u16(orientation) + [0, 0]       // value, padded to 4 bytes
        tiff += u32(0)                          // no next IFD
        let payload: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let length = UInt16(payload.count + 2)
        let segment: [UInt8] = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
        return Array(jpeg[0..<2]) + segment + Array(jpeg[2...])
    }
}
