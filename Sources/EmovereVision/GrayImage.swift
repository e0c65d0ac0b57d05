/// An 8-bit grayscale image, row-major, `height` rows of `width` pixels, no padding.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height` pixels, row by row.
    public var pixels: [UInt8]

    /// Creates an image from its pixels; `pixels.count` must equal `width * height`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height,
                     "GrayImage expects \(width)x\(height) = \(width * height) pixels, received \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A blank image filled with `value`.
    public init(width: Int, height: Int, value: UInt8 = 0) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: value, count: width * height))
    }

    public subscript(x: Int, y: Int) -> UInt8 {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }
}
