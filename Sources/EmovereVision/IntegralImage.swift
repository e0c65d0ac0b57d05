/// Summed-area tables of an 8-bit image, laid out like OpenCV's `integral(src, sum, sqsum, CV_32S, CV_32S)`.
///
/// Both tables have `(width + 1) x (height + 1)` entries; entry `(x, y)` holds the sum over pixels `[0, x) x [0, y)`
/// (origin top-left, x right, y down), so row 0 and column 0 are zero. Sums use 32-bit wrapping arithmetic exactly
/// like OpenCV: for large images the absolute entries overflow, but the difference of four corners of any rectangle
/// whose true sum fits in 32 bits is exact (read ``squareSums`` differences as unsigned).
struct IntegralImage: Sendable, Equatable {
    /// Source width in pixels; the tables are `width + 1` entries wide.
    let width: Int
    /// Source height in pixels; the tables are `height + 1` entries tall.
    let height: Int
    /// Pixel sums, row-major, `(width + 1) * (height + 1)` entries.
    let sums: [Int32]
    /// Sums of squared pixels, row-major, same layout as ``sums``; wraps modulo 2^32.
    let squareSums: [UInt32]

    init(_ image: GrayImage) {
        let stride = image.width + 1
        let count = stride * (image.height + 1)
        var sums = [Int32](repeating: 0, count: count)
        var squares = [UInt32](repeating: 0, count: count)
        image.pixels.withUnsafeBufferPointer { pixels in
            sums.withUnsafeMutableBufferPointer { sumBuffer in
                squares.withUnsafeMutableBufferPointer { squareBuffer in
                    guard let source = pixels.baseAddress, let sum = sumBuffer.baseAddress,
                          let square = squareBuffer.baseAddress else { return }
                    Self.compute(source: source, width: image.width, height: image.height, sourceStride: image.width,
                                 sums: sum, squareSums: square, stride: stride)
                }
            }
        }
        self.width = image.width
        self.height = image.height
        self.sums = sums
        self.squareSums = squares
    }

    /// Fills `(width + 1) x (height + 1)` entries of `sums` and `squareSums` (row pitch `stride >= width + 1`)
    /// from `height` rows of `width` pixels at `source` (row pitch `sourceStride`).
    @inline(__always)
    static func compute(source: UnsafePointer<UInt8>, width: Int, height: Int, sourceStride: Int,
                        sums: UnsafeMutablePointer<Int32>, squareSums: UnsafeMutablePointer<UInt32>, stride: Int) {
        for x in 0...width {
            sums[x] = 0
            squareSums[x] = 0
        }
        for y in 0..<height {
            let row = source + y * sourceStride
            let above = sums + y * stride
            let aboveSquares = squareSums + y * stride
            let current = sums + (y + 1) * stride
            let currentSquares = squareSums + (y + 1) * stride
            current[0] = 0
            currentSquares[0] = 0
            var rowSum: Int32 = 0
            var rowSquares: UInt32 = 0
            for x in 0..<width {
                let value = UInt32(row[x])
                rowSum &+= Int32(bitPattern: value)
                rowSquares &+= value &* value
                current[x + 1] = above[x + 1] &+ rowSum
                currentSquares[x + 1] = aboveSquares[x + 1] &+ rowSquares
            }
        }
    }
}
