/// An 8-bit RGB image, row-major, `height` rows of `width` interleaved `R G B` pixels, no padding.
public struct RGBImage: Sendable, Equatable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `width * height * 3` bytes, row by row, each pixel as red, green, blue.
    public var pixels: [UInt8]

    /// Creates an image from interleaved RGB bytes; `pixels.count` must equal `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "RGBImage expects \(width)x\(height)x3 = \(width * height * 3) bytes, received \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A blank image filled with one colour.
    public init(width: Int, height: Int, red: UInt8 = 0, green: UInt8 = 0, blue: UInt8 = 0) {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for index in stride(from: 0, to: pixels.count, by: 3) {
            pixels[index] = red
            pixels[index + 1] = green
            pixels[index + 2] = blue
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// The `(red, green, blue)` pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (red: UInt8, green: UInt8, blue: UInt8) {
        get {
            let index = (y * width + x) * 3
            return (pixels[index], pixels[index + 1], pixels[index + 2])
        }
        set {
            let index = (y * width + x) * 3
            pixels[index] = newValue.red
            pixels[index + 1] = newValue.green
            pixels[index + 2] = newValue.blue
        }
    }

    /// The luma image `Y = 0.299 R + 0.587 G + 0.114 B`, rounded to nearest (ITU-R BT.601,
    /// the weights of OpenCV's `cvtColor(..., COLOR_RGB2GRAY)`).
    ///
    /// Uses 14-bit fixed-point weights (4899, 9617, 1868), like OpenCV, so results match it exactly.
    public func grayscale() -> GrayImage {
        let count = width * height
        let gray = [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
            pixels.withUnsafeBufferPointer { input in
                guard let source = input.baseAddress, let destination = output.baseAddress else { return }
                for index in 0..<count {
                    let base = index &* 3
                    let red = UInt32(source[base])
                    let green = UInt32(source[base &+ 1])
                    let blue = UInt32(source[base &+ 2])
                    let luma = (red &* 4899 &+ green &* 9617 &+ blue &* 1868 &+ 8192) >> 14
                    destination[index] = UInt8(truncatingIfNeeded: luma)
                }
            }
            initialized = count
        }
        return GrayImage(width: width, height: height, pixels: gray)
    }
}

extension GrayImage {
    /// This image as RGB with equal channels.
    public func rgb() -> RGBImage {
        var output = [UInt8](repeating: 0, count: pixels.count * 3)
        for (index, value) in pixels.enumerated() {
            output[index * 3] = value
            output[index * 3 + 1] = value
            output[index * 3 + 2] = value
        }
        return RGBImage(width: width, height: height, pixels: output)
    }
}
