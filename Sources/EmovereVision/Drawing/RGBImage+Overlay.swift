extension RGBImage {
    /// Draws `image` with its top-left corner at (`x`, `y`), blended over this image with `opacity` (0 leaves
    /// this image unchanged, 1 copies `image`; in between `opacity * image + (1 - opacity) * pixel`, in steps of
    /// 1/256). Clipped to this image's frame like the other drawing functions.
    public mutating func drawImage(_ image: RGBImage, x: Int, y: Int, opacity: Double = 1) {
        let alpha = DrawingGeometry.alpha(opacity)
        guard alpha > 0, let columns = DrawingGeometry.span(x, image.width, limit: width),
              let rows = DrawingGeometry.span(y, image.height, limit: height) else { return }
        let keep = UInt32(256 - min(alpha, 256)), weight = UInt32(min(alpha, 256))
        let (targetWidth, sourceWidth) = (width, image.width)
        let (left, top) = (columns.lowerBound - x, rows.lowerBound - y)
        pixels.withUnsafeMutableBufferPointer { target in
            image.pixels.withUnsafeBufferPointer { source in
                guard let targetBase = target.baseAddress, let sourceBase = source.baseAddress else { return }
                for (offset, row) in rows.enumerated() {
                    let into = targetBase + (row &* targetWidth &+ columns.lowerBound) &* 3
                    let from = sourceBase + ((top &+ offset) &* sourceWidth &+ left) &* 3
                    for index in 0..<(columns.count &* 3) {
                        into[index] = UInt8(truncatingIfNeeded:
                            (UInt32(into[index]) &* keep &+ UInt32(from[index]) &* weight &+ 128) >> 8)
                    }
                }
            }
        }
    }
}

extension GrayImage {
    /// This image as a heat map in the jet colour scale: 0 dark blue, then blue, cyan, yellow, red, 255 dark red.
    public func heatMap() -> RGBImage {
        let table = (0..<256).map { RGBColor.jet(Double($0) / 255) }
        var output = [UInt8](repeating: 0, count: pixels.count * 3)
        for (index, value) in pixels.enumerated() {
            let color = table[Int(value)]
            output[index * 3] = color.red
            output[index * 3 + 1] = color.green
            output[index * 3 + 2] = color.blue
        }
        return RGBImage(width: width, height: height, pixels: output)
    }
}

extension RGBColor {
    /// The colour of `value` (clamped to 0...1; NaN as 0) in the jet scale, MATLAB's and OpenCV's
    /// `COLORMAP_JET`: piecewise linear from dark blue (0) through blue, cyan, yellow and red to dark red (1).
    public static func jet(_ value: Double) -> RGBColor {
        let v = value.isNaN ? 0 : min(max(value, 0), 1)
        func channel(_ centre: Double) -> UInt8 {
            UInt8((min(max(1.5 - abs(4 * v - centre), 0), 1) * 255).rounded())
        }
        return RGBColor(red: channel(3), green: channel(2), blue: channel(1))
    }
}
