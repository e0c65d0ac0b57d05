import EmovereTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random training-time distortions of a square gray image, applied as one affine warp with
/// bilinear sampling (horizontal flip, rotation, zoom, shift, pad-and-crop) followed by random
/// erasing. Output stays in pixel units `[0, 255]`; model preprocessing happens elsewhere.
///
/// Every call draws the same number of values from the generator whatever the settings, so one
/// seed gives one sequence of distortions.
public struct Augmentation: Sendable, Codable, Equatable {
    /// What the warp samples outside the source image.
    public enum Border: Sendable, Codable, Equatable {
        /// The nearest edge pixel.
        case replicate
        /// A fixed value in pixel units.
        case constant(Float)
    }

    /// Probability of mirroring left-right.
    public var horizontalFlipProbability: Float
    /// Rotation drawn uniformly from `-maximumRotationDegrees...maximumRotationDegrees`.
    public var maximumRotationDegrees: Float
    /// Shift along each axis drawn from `-maximumShiftFraction...maximumShiftFraction` of the size.
    public var maximumShiftFraction: Float
    /// Zoom factor drawn uniformly from `minimumZoom...maximumZoom` (above 1 magnifies).
    public var minimumZoom: Float
    /// See `minimumZoom`.
    public var maximumZoom: Float
    /// Pad-and-crop: pad each side by this many pixels and crop a random `size` x `size` window,
    /// i.e. an integer shift in `-cropPadding...cropPadding` along each axis.
    public var cropPadding: Int
    /// Probability of erasing one random rectangle.
    public var erasingProbability: Float
    /// The erased rectangle's area as a fraction of the image, drawn from this range.
    public var minimumErasingArea: Float
    /// See `minimumErasingArea`.
    public var maximumErasingArea: Float
    /// The value written into the erased rectangle, in pixel units.
    public var erasingValue: Float
    /// Sampling outside the source.
    public var border: Border

    /// Creates an augmentation; every distortion is off by default.
    public init(horizontalFlipProbability: Float = 0, maximumRotationDegrees: Float = 0,
                maximumShiftFraction: Float = 0, minimumZoom: Float = 1, maximumZoom: Float = 1,
                cropPadding: Int = 0, erasingProbability: Float = 0, minimumErasingArea: Float = 0.02,
                maximumErasingArea: Float = 0.2, erasingValue: Float = 0, border: Border = .replicate) {
        self.horizontalFlipProbability = horizontalFlipProbability
        self.maximumRotationDegrees = maximumRotationDegrees
        self.maximumShiftFraction = maximumShiftFraction
        self.minimumZoom = minimumZoom
        self.maximumZoom = maximumZoom
        self.cropPadding = cropPadding
        self.erasingProbability = erasingProbability
        self.minimumErasingArea = minimumErasingArea
        self.maximumErasingArea = maximumErasingArea
        self.erasingValue = erasingValue
        self.border = border
    }

    /// No distortion: `apply` copies the pixels exactly.
    public static let none = Augmentation()

    /// The FER2013 training default: flip (p = 0.5), rotation ±10°, shift ±10 %, zoom 0.9-1.1,
    /// edge replication, random erasing (p = 0.25, 2-15 % of the area, filled with 0).
    public static let standard = Augmentation(
        horizontalFlipProbability: 0.5, maximumRotationDegrees: 10, maximumShiftFraction: 0.1,
        minimumZoom: 0.9, maximumZoom: 1.1, cropPadding: 0, erasingProbability: 0.25,
        minimumErasingArea: 0.02, maximumErasingArea: 0.15, erasingValue: 0, border: .replicate)

    /// face_classification's geometric set without erasing: flip (p = 0.5), rotation ±10°,
    /// shift ±10 %, zoom 0.9-1.1, edge replication.
    public static let classic = Augmentation(
        horizontalFlipProbability: 0.5, maximumRotationDegrees: 10, maximumShiftFraction: 0.1,
        minimumZoom: 0.9, maximumZoom: 1.1, cropPadding: 0, erasingProbability: 0, border: .replicate)

    /// Writes a randomly distorted copy of the `size` x `size` image at `source` to the
    /// `size * size` floats at `destination` (pixel units, `[0, 255]`).
    public func apply(source: UnsafePointer<UInt8>, size: Int, destination: UnsafeMutablePointer<Float>,
                      random: inout SplitMix64) {
        // Draw every value up front, always the same number, so sequences do not depend on settings.
        let flipDraw = random.nextUnit()
        let angleDraw = random.nextUnit(), zoomDraw = random.nextUnit()
        let shiftXDraw = random.nextUnit(), shiftYDraw = random.nextUnit()
        let cropX = random.next(), cropY = random.next()
        let eraseDraw = random.nextUnit(), areaDraw = random.nextUnit(), aspectDraw = random.nextUnit()
        let eraseX = random.next(), eraseY = random.next()
        guard size > 0 else { return }

        let flip = flipDraw < horizontalFlipProbability
        let angle = (angleDraw * 2 - 1) * maximumRotationDegrees * Float.pi / 180
        let zoom = max(minimumZoom + (maximumZoom - minimumZoom) * zoomDraw, 1e-3)
        let padding = max(cropPadding, 0)
        let cropShiftX = padding > 0 ? Float(Int(cropX % UInt64(2 * padding + 1)) - padding) : 0
        let cropShiftY = padding > 0 ? Float(Int(cropY % UInt64(2 * padding + 1)) - padding) : 0
        let shiftX = (shiftXDraw * 2 - 1) * maximumShiftFraction * Float(size) + cropShiftX
        let shiftY = (shiftYDraw * 2 - 1) * maximumShiftFraction * Float(size) + cropShiftY

        if !flip && angle == 0 && zoom == 1 && shiftX == 0 && shiftY == 0 {
            for index in 0..<size &* size { destination[index] = Float(source[index]) }
        } else {
            warp(source: source, size: size, destination: destination, flip: flip, angle: angle, zoom: zoom,
                 shiftX: shiftX, shiftY: shiftY)
        }

        if eraseDraw < erasingProbability {
            let low = max(min(minimumErasingArea, maximumErasingArea), 0)
            let high = min(max(minimumErasingArea, maximumErasingArea), 1)
            let area = Float(size * size) * (low + (high - low) * areaDraw)
            let aspect = expf(logf(0.3) + (logf(1 / 0.3) - logf(0.3)) * aspectDraw)
            let height = min(max(Int((area * aspect).squareRoot().rounded()), 1), size)
            let width = min(max(Int((area / aspect).squareRoot().rounded()), 1), size)
            let top = Int(eraseY % UInt64(size - height + 1)), left = Int(eraseX % UInt64(size - width + 1))
            for row in top..<top + height {
                (destination + row * size + left).update(repeating: erasingValue, count: width)
            }
        }
    }

    /// The inverse-mapped bilinear warp: output (x, y) samples the source at
    /// `F(c + R(-angle) / zoom * ((x, y) - c - shift))`, where `c` is the centre and `F` the optional mirror.
    private func warp(source: UnsafePointer<UInt8>, size: Int, destination: UnsafeMutablePointer<Float>,
                      flip: Bool, angle: Float, zoom: Float, shiftX: Float, shiftY: Float) {
        let centre = Float(size - 1) / 2
        let cosine = cosf(angle) / zoom, sine = sinf(angle) / zoom
        let originX = centre + shiftX, originY = centre + shiftY
        // Source x = a*x + b*y + e, source y = c*x + d*y + f.
        var a = cosine, b = sine, e = centre - cosine * originX - sine * originY
        let c = -sine, d = cosine, f = centre + sine * originX - cosine * originY
        if flip {
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
            if x >= 0 && x <= last && y >= 0 && y <= last { return Float(source[y &* size &+ x]) }
            if !replicate { return outside }
            return Float(source[min(max(y, 0), last) &* size &+ min(max(x, 0), last)])
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
                        ? Float(source[Int(min(max(sourceY, 0), Float(last)).rounded()) &* size
                                       &+ Int(min(max(sourceX, 0), Float(last)).rounded())])
                        : outside
                    continue
                }
                let x0 = Int(floorX), y0 = Int(floorY)
                let top: Float, bottom: Float
                if x0 >= 0 && x0 < last && y0 >= 0 && y0 < last {
                    let pointer = source + (y0 &* size &+ x0)
                    top = Float(pointer[0]) + (Float(pointer[1]) - Float(pointer[0])) * weightX
                    bottom = Float(pointer[size]) + (Float(pointer[size &+ 1]) - Float(pointer[size])) * weightX
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

    // MARK: - Test-time views

    /// Writes the left-right mirror of the `size` x `size` image at `source` as floats.
    public static func horizontalFlip(source: UnsafePointer<UInt8>, size: Int, destination: UnsafeMutablePointer<Float>) {
        for y in 0..<size {
            let input = source + (y &* size), output = destination + (y &* size)
            for x in 0..<size { output[x] = Float(input[size &- 1 &- x]) }
        }
    }

    /// The top-left corners of the five ten-crop windows: four corners, then the centre.
    public static func tenCropOrigins(size: Int, cropSize: Int) -> [(x: Int, y: Int)] {
        let far = size - cropSize, middle = (size - cropSize) / 2
        return [(0, 0), (far, 0), (0, far), (far, far), (middle, middle)]
    }

    /// Writes the ten `cropSize` x `cropSize` test-time crops of the `size` x `size` image at
    /// `source` to `destination` (`10 * cropSize * cropSize` floats): the four corner crops and
    /// the centre crop, then the same five mirrored left-right.
    public static func tenCrops(source: UnsafePointer<UInt8>, size: Int, cropSize: Int,
                                destination: UnsafeMutablePointer<Float>) {
        precondition(cropSize > 0 && cropSize <= size, "ten-crop needs 0 < cropSize <= size, got \(cropSize) and \(size)")
        let area = cropSize * cropSize
        for (view, origin) in tenCropOrigins(size: size, cropSize: cropSize).enumerated() {
            let plain = destination + (view &* area), mirrored = destination + ((view &+ 5) &* area)
            for y in 0..<cropSize {
                let input = source + ((origin.y &+ y) &* size &+ origin.x)
                for x in 0..<cropSize {
                    let value = Float(input[x])
                    plain[y &* cropSize &+ x] = value
                    mirrored[y &* cropSize &+ cropSize &- 1 &- x] = value
                }
            }
        }
    }

    /// The ten test-time crops (see `tenCrops(source:size:cropSize:destination:)`) as arrays.
    public static func tenCrops(source: UnsafePointer<UInt8>, size: Int, cropSize: Int) -> [[Float]] {
        var all = [Float](repeating: 0, count: 10 * cropSize * cropSize)
        all.withUnsafeMutableBufferPointer { buffer in
            tenCrops(source: source, size: size, cropSize: cropSize, destination: buffer.baseAddress!)
        }
        let area = cropSize * cropSize
        return (0..<10).map { Array(all[$0 * area..<($0 + 1) * area]) }
    }
}
