#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

extension RGBImage {
    /// Draws `image` with its top-left corner at (`x`, `y`), blended over this image with `opacity` (0 leaves
    /// this image unchanged, 1 copies `image`; in between `opacity * image + (1 - opacity) * pixel`, in steps of
    /// 1/256). Clipped to this image's frame like the other drawing functions.
    public mutating func drawImage(_ image: RGBImage, x: Int, y: Int, opacity: Double = 1) {
        let alpha = DrawingGeometry.alpha(opacity)
        guard alpha > 0, let columns = DrawingGeometry.span(x, image.width, limit: width),
              let rows = DrawingGeometry.span(y, image.height, limit: height) else { return }
        let (keep, weight) = Self.blendWeights(alpha)
        let (targetWidth, sourceWidth) = (width, image.width)
        let (left, top) = (columns.lowerBound - x, rows.lowerBound - y)
        pixels.withUnsafeMutableBufferPointer { target in
            image.pixels.withUnsafeBufferPointer { source in
                guard let targetBase = target.baseAddress, let sourceBase = source.baseAddress else { return }
                for (offset, row) in rows.enumerated() {
                    let into = targetBase + (row &* targetWidth &+ columns.lowerBound) &* 3
                    let from = sourceBase + ((top &+ offset) &* sourceWidth &+ left) &* 3
                    for index in 0..<(columns.count &* 3) {
                        into[index] = Self.blend(into[index], from[index], keep: keep, weight: weight)
                    }
                }
            }
        }
    }

    /// Draws `image` stretched over `region` (its sides along the region's turned sides), blended with `opacity`
    /// as `drawImage(_:x:y:opacity:)` blends: each pixel whose centre falls inside the region takes the nearest
    /// pixel of `image`.
    public mutating func drawImage(_ image: RGBImage, over region: ImageRegion, opacity: Double = 1) {
        let rect = region.rect
        guard region.isTurned else {
            let fitted = image.width == rect.width && image.height == rect.height
                ? image : image.resized(width: max(rect.width, 0), height: max(rect.height, 0))
            return drawImage(fitted, x: rect.x, y: rect.y, opacity: opacity)
        }
        let alpha = DrawingGeometry.alpha(opacity)
        let bounds = region.boundingBox
        guard alpha > 0, !rect.isEmpty, image.width > 0, image.height > 0,
              let columns = DrawingGeometry.span(bounds.x, bounds.width, limit: width),
              let rows = DrawingGeometry.span(bounds.y, bounds.height, limit: height) else { return }
        let (keep, weight) = Self.blendWeights(alpha)
        let (cosine, sine) = (cosf(region.angle), sinf(region.angle))
        let centre = region.centre
        // Image pixels per region pixel along each side.
        let stepAcross = Float(image.width) / Float(rect.width), stepDown = Float(image.height) / Float(rect.height)
        for row in rows {
            for column in columns {
                let dx = Float(column) + 0.5 - centre.x, dy = Float(row) + 0.5 - centre.y
                let across = (dx * cosine + dy * sine + Float(rect.width) / 2) * stepAcross
                let down = (dy * cosine - dx * sine + Float(rect.height) / 2) * stepDown
                guard across >= 0, down >= 0, across < Float(image.width), down < Float(image.height) else { continue }
                let from = (Int(down) * image.width + Int(across)) * 3, into = (row * width + column) * 3
                for channel in 0..<3 {
                    pixels[into + channel] = Self.blend(pixels[into + channel], image.pixels[from + channel],
                                                        keep: keep, weight: weight)
                }
            }
        }
    }

    /// The weights of the kept and the drawn pixel for `alpha` (0...256).
    private static func blendWeights(_ alpha: Int) -> (keep: UInt32, weight: UInt32) {
        (UInt32(256 - min(alpha, 256)), UInt32(min(alpha, 256)))
    }

    /// `pixel` with `drawn` blended over it: `(pixel * keep + drawn * weight) / 256`, rounded.
    @inline(__always)
    private static func blend(_ pixel: UInt8, _ drawn: UInt8, keep: UInt32, weight: UInt32) -> UInt8 {
        UInt8(truncatingIfNeeded: (UInt32(pixel) &* keep &+ UInt32(drawn) &* weight &+ 128) >> 8)
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
