/// Bilinear sampling of a one-channel float image through an affine map: destination pixel `(x, y)` reads the
/// source at `(a x + b y + e, c x + d y + f)`, both in pixel indices. The one bilinear loop behind training
/// augmentation, the corruption benchmark's rotation and framing, and turned face crops.
public struct AffineSampler: Sendable, Equatable {
    public var a: Float, b: Float, e: Float
    public var c: Float, d: Float, f: Float
    /// The value read outside the source; nil repeats the edge pixels (from two pixels past an edge on, the nearest
    /// edge pixel itself, not a blend).
    public var outside: Float?

    public init(a: Float, b: Float, e: Float, c: Float, d: Float, f: Float, outside: Float? = nil) {
        (self.a, self.b, self.e, self.c, self.d, self.f) = (a, b, e, c, d, f)
        self.outside = outside
    }

    /// Writes the `destinationWidth` x `destinationHeight` floats at `destination` from the `width` x `height`
    /// image at `source` (row by row, both non-empty); the two must not overlap.
    public func sample(_ source: UnsafePointer<Float>, width: Int, height: Int,
                       into destination: UnsafeMutablePointer<Float>, width destinationWidth: Int,
                       height destinationHeight: Int) {
        precondition(width > 0 && height > 0, "AffineSampler needs a non-empty source, received \(width)x\(height)")
        let lastX = width - 1, lastY = height - 1
        let replicate = outside == nil
        let outsideValue = outside ?? 0
        let (a, b, e, c, d, f) = (a, b, e, c, d, f)
        @inline(__always) func fetch(_ x: Int, _ y: Int) -> Float {
            if x >= 0 && x <= lastX && y >= 0 && y <= lastY { return source[y &* width &+ x] }
            if !replicate { return outsideValue }
            return source[min(max(y, 0), lastY) &* width &+ min(max(x, 0), lastX)]
        }
        let limitX = Float(width) + 1, limitY = Float(height) + 1
        for y in 0..<destinationHeight {
            let row = destination + (y &* destinationWidth)
            let fy = Float(y)
            for x in 0..<destinationWidth {
                let fx = Float(x)
                let sourceX = a * fx + b * fy + e
                let sourceY = c * fx + d * fy + f
                let floorX = sourceX.rounded(.down), floorY = sourceY.rounded(.down)
                let weightX = sourceX - floorX, weightY = sourceY - floorY
                // Far outside (also guards the Int conversion against huge values).
                if !(floorX > -2 && floorX < limitX && floorY > -2 && floorY < limitY) {
                    row[x] = replicate
                        ? source[Int(min(max(sourceY, 0), Float(lastY)).rounded()) &* width
                                 &+ Int(min(max(sourceX, 0), Float(lastX)).rounded())]
                        : outsideValue
                    continue
                }
                let x0 = Int(floorX), y0 = Int(floorY)
                let top: Float, bottom: Float
                if x0 >= 0 && x0 < lastX && y0 >= 0 && y0 < lastY {
                    let pointer = source + (y0 &* width &+ x0)
                    top = pointer[0] + (pointer[1] - pointer[0]) * weightX
                    bottom = pointer[width] + (pointer[width &+ 1] - pointer[width]) * weightX
                } else {
                    let topLeft = fetch(x0, y0), topRight = fetch(x0 &+ 1, y0)
                    let bottomLeft = fetch(x0, y0 &+ 1), bottomRight = fetch(x0 &+ 1, y0 &+ 1)
                    top = topLeft + (topRight - topLeft) * weightX
                    bottom = bottomLeft + (bottomRight - bottomLeft) * weightX
                }
                row[x] = top + (bottom - top) * weightY
            }
        }
    }
}
