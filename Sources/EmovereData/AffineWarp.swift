import EmovereVision
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
        let outside: Float?
        switch border {
        case .replicate: outside = nil
        case let .constant(value): outside = value
        }
        AffineSampler(a: a, b: b, e: e, c: c, d: d, f: f, outside: outside)
            .sample(source, width: size, height: size, into: destination, width: size, height: size)
    }
}
