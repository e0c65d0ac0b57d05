#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// One similarity transform of a square image about its centre, sampled bilinearly: the geometry shared by
/// training augmentation and the corruption benchmark's rotation and framing corruptions.
///
/// Output pixel (x, y) samples the source at `F(c + R(-angle) / zoom * ((x, y) - c - shift))`, where `c`
/// is the centre and `F` the optional left-right mirror.
struct AffineWarp {
    var mirrored = false
    /// Radians, counter-clockwise in image coordinates.
    var angle: Float = 0
    /// Above 1 magnifies (a tighter crop), below 1 shrinks (a looser crop).
    var zoom: Float = 1
    /// In pixels.
    var shiftX: Float = 0
    var shiftY: Float = 0
    var border: Augmentation.Border = .replicate

    /// True when the warp maps every pixel onto itself.
    var isIdentity: Bool { !mirrored && angle == 0 && zoom == 1 && shiftX == 0 && shiftY == 0 }

    /// Writes the warped `size` x `size` image at `source` (pixel units) to the `size * size` floats at
    /// `destination`; the two must not overlap.
    func apply(source: UnsafePointer<Float>, size: Int, destination: UnsafeMutablePointer<Float>) {
        let centre = Float(size - 1) / 2
        let cosine = cosf(angle) / zoom, sine = sinf(angle) / zoom
        let originX = centre + shiftX, originY = centre + shiftY
        // Source x = a*x + b*y + e, source y = c*x + d*y + f.
        var a = cosine, b = sine, e = centre - cosine * originX - sine * originY
        let c = -sine, d = cosine, f = centre + sine * originX - cosine * originY
        if mirrored {
            a = -a
            b = -b
            e = Float(size - 1) - e
        }
        let last = size - 1
        let outside: Float
        let replicate: Bool
        switch border {
        case .replicate:
            replicate = true
            outside = 0
        case let .constant(value):
            replicate = false
            outside = value
        }
        @inline(__always) func fetch(_ x: Int, _ y: Int) -> Float {
            if x >= 0 && x <= last && y >= 0 && y <= last { return source[y &* size &+ x] }
            if !replicate { return outside }
            return source[min(max(y, 0), last) &* size &+ min(max(x, 0), last)]
        }
        for y in 0..<size {
            let row = destination + (y &* size)
            let fy = Float(y)
            for x in 0..<size {
                let fx = Float(x)
                let sourceX = a * fx + b * fy + e
                let sourceY = c * fx + d * fy + f
                let floorX = sourceX.rounded(.down), floorY = sourceY.rounded(.down)
                let weightX = sourceX - floorX, weightY = sourceY - floorY
                // Far outside (also guards the Int conversion against huge values).
                if !(floorX > -2 && floorX < Float(size) + 1 && floorY > -2 && floorY < Float(size) + 1) {
                    row[x] = replicate
                        ? source[Int(min(max(sourceY, 0), Float(last)).rounded()) &* size
                                 &+ Int(min(max(sourceX, 0), Float(last)).rounded())]
                        : outside
                    continue
                }
                let x0 = Int(floorX), y0 = Int(floorY)
                let top: Float, bottom: Float
                if x0 >= 0 && x0 < last && y0 >= 0 && y0 < last {
                    let pointer = source + (y0 &* size &+ x0)
                    top = pointer[0] + (pointer[1] - pointer[0]) * weightX
                    bottom = pointer[size] + (pointer[size &+ 1] - pointer[size]) * weightX
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
