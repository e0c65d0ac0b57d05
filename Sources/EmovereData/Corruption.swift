import EmovereCore
import EmovereVision

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin

#elseif canImport(Musl)

import Musl
#endif

/// A way a real camera degrades a face, at five severities, as ImageNet-C does for ImageNet: the
/// corruption benchmark (`CorruptionBenchmark`) applies each at fixed severities and seeds, and training
/// augmentation (`Augmentation.corruption`) draws them at random strengths, with the same code.
///
/// Strengths are given for a 48 x 48 face (FER2013's size) and scale with the image: a blur of 1.5 px at
/// 48 px is 2 px at 64 px. Severity 3 is the benchmark's middle severity.
public enum Corruption: String, Sendable, Codable, CaseIterable {
    /// Gaussian blur, sigma 0.75, 1, 1.5, 2, 3 px.
    case blur
    /// Shrunk to a face of 32, 24, 20, 16, 12 px (area averaging), then enlarged back (bilinear).
    case lowResolution = "low-resolution"
    /// Additive Gaussian noise, sigma 4, 8, 12, 18, 26 grey levels.
    case noise
    /// JPEG compression at quality 50, 30, 15, 10, 5.
    case jpeg
    /// Under-exposure: every value multiplied by 0.8, 0.65, 0.5, 0.35, 0.25.
    case dim
    /// Contrast scaled about the image's mean by 0.75, 0.6, 0.45, 0.3, 0.2.
    case lowContrast = "low-contrast"
    /// Gamma 1.25, 1.5, 2, 2.5, 3 (darker mid-tones).
    case dark
    /// Gamma 0.8, 0.65, 0.5, 0.4, 0.3 (brighter mid-tones).
    case bright
    /// A mid-grey box over the mouth: the middle 60 % of the width, the bottom 20, 27, 35, 42, 50 % of the
    /// height (a hand or a mask).
    case mouthCovered = "mouth-covered"
    /// A dark band over the eyes: 80 % of the width, 8, 12, 16, 20, 25 % of the height centred 38 % down
    /// (sunglasses).
    case eyesCovered = "eyes-covered"
    /// Rotation by 5, 10, 15, 20, 30 degrees, clockwise or counter-clockwise at random.
    case rotation
    /// The face framed 1.1, 1.18, 1.25, 1.35, 1.5 times larger (a detector box tighter than FER2013's).
    case tighterCrop = "tighter-crop"
    /// The face framed 0.92, 0.86, 0.8, 0.72, 0.64 times as large (a looser box; the border repeats the
    /// edge pixels).
    case looserCrop = "looser-crop"
    /// The face shifted by 2, 4, 6, 8, 11 px in a random direction.
    case offCentre = "off-centre"

    /// The severities the benchmark uses.
    public static let severities = 1...5

    /// The side length the strengths are given for.
    public static let referenceSize = 48

    /// The strength at `severity` (1...5; fractional severities interpolate, values below 1 scale
    /// toward no corruption at 0), in the units of the case's documentation.
    public func strength(atSeverity severity: Float) -> Float {
        let table: [Float]
        let none: Float
        switch self {
        case .blur: (table, none) = ([0.75, 1, 1.5, 2, 3], 0)
        case .lowResolution: (table, none) = ([32, 24, 20, 16, 12], 48)
        case .noise: (table, none) = ([4, 8, 12, 18, 26], 0)
        case .jpeg: (table, none) = ([50, 30, 15, 10, 5], 100)
        case .dim: (table, none) = ([0.8, 0.65, 0.5, 0.35, 0.25], 1)
        case .lowContrast: (table, none) = ([0.75, 0.6, 0.45, 0.3, 0.2], 1)
        case .dark: (table, none) = ([1.25, 1.5, 2, 2.5, 3], 1)
        case .bright: (table, none) = ([0.8, 0.65, 0.5, 0.4, 0.3], 1)
        case .mouthCovered: (table, none) = ([0.2, 0.27, 0.35, 0.42, 0.5], 0)
        case .eyesCovered: (table, none) = ([0.08, 0.12, 0.16, 0.2, 0.25], 0)
        case .rotation: (table, none) = ([5, 10, 15, 20, 30], 0)
        case .tighterCrop: (table, none) = ([1.1, 1.18, 1.25, 1.35, 1.5], 1)
        case .looserCrop: (table, none) = ([0.92, 0.86, 0.8, 0.72, 0.64], 1)
        case .offCentre: (table, none) = ([2, 4, 6, 8, 11], 0)
        }
        let clamped = min(max(severity, 0), Float(table.count))
        if clamped <= 1 { return none + (table[0] - none) * clamped }
        let low = Int(clamped.rounded(.down)), fraction = clamped - Float(low)
        if low >= table.count { return table[table.count - 1] }
        return table[low - 1] + (table[low] - table[low - 1]) * fraction
    }

    /// Whether the corruption moves pixels (rotation and framing) rather than changing their values.
    public var isGeometric: Bool {
        switch self {
        case .rotation, .tighterCrop, .looserCrop, .offCentre: true
        default: false
        }
    }

    /// Corrupts the `size` x `size` image at `pixels` (pixel units, `[0, 255]`) in place at `severity`.
    /// Results stay in `[0, 255]`. Random choices (noise, rotation sense, shift direction) draw from `random`;
    /// every call draws the same number of values.
    public func apply(to pixels: UnsafeMutablePointer<Float>, size: Int, severity: Float, random: inout SplitMix64) {
        let directionDraw = random.nextUnit()
        let noiseSeed = random.next()
        guard size > 0, severity > 0 else { return }
        let strength = strength(atSeverity: severity)
        let scale = Float(size) / Float(Self.referenceSize)
        let count = size * size
        switch self {
        case .blur:
            Self.gaussianBlur(pixels, size: size, sigma: strength * scale)
        case .lowResolution:
            let side = max(Int((strength * scale).rounded()), 1)
            Self.roundTrip(pixels, size: size) { image in
                image.resized(width: side, height: side).resized(width: size, height: size).pixels
            }
        case .noise:
            var noise = SplitMix64(seed: noiseSeed)
            for index in 0..<count { pixels[index] += strength * noise.nextGaussian() }
        case .jpeg:
            Self.roundTrip(pixels, size: size) { image in
                Self.jpegRoundTrip(image, quality: Int(strength.rounded()))
            }
        case .dim:
            for index in 0..<count { pixels[index] *= strength }
        case .lowContrast:
            var sum: Float = 0
            for index in 0..<count { sum += pixels[index] }
            let mean = sum / Float(count)
            for index in 0..<count { pixels[index] = mean + (pixels[index] - mean) * strength }
        case .dark, .bright:
            for index in 0..<count { pixels[index] = 255 * powf(max(pixels[index], 0) / 255, strength) }
        case .mouthCovered:
            Self.fill(pixels, size: size, value: 128, left: 0.2, right: 0.8, top: 1 - strength, bottom: 1)
        case .eyesCovered:
            Self.fill(pixels, size: size, value: 20, left: 0.1, right: 0.9,
                      top: 0.38 - strength / 2, bottom: 0.38 + strength / 2)
        case .rotation:
            let sense: Float = directionDraw < 0.5 ? -1 : 1
            Self.warp(pixels, size: size, AffineWarp(angle: sense * strength * Float.pi / 180))
        case .tighterCrop, .looserCrop:
            Self.warp(pixels, size: size, AffineWarp(zoom: strength))
        case .offCentre:
            let direction = 2 * Float.pi * directionDraw
            Self.warp(pixels, size: size, AffineWarp(shiftX: strength * scale * cosf(direction),
                                                     shiftY: strength * scale * sinf(direction)))
        }
        for index in 0..<count { pixels[index] = min(max(pixels[index], 0), 255) }
    }

    // MARK: - Helpers

    private static func warp(_ pixels: UnsafeMutablePointer<Float>, size: Int, _ warp: AffineWarp) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: size * size) { copy in
            let copy = copy.baseAddress!  // capacity > 0: size > 0 is checked by apply
            copy.update(from: pixels, count: size * size)
            warp.apply(source: copy, size: size, destination: pixels)
        }
    }

    /// Separable Gaussian blur with edge replication; the kernel reaches 3 sigma.
    private static func gaussianBlur(_ pixels: UnsafeMutablePointer<Float>, size: Int, sigma: Float) {
        guard sigma > 0.05 else { return }
        let radius = max(Int((3 * sigma).rounded(.up)), 1)
        var weights = (-radius...radius).map { expf(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
        var line = [Float](repeating: 0, count: size)
        for pass in 0..<2 {
            // Pass 0 blurs rows, pass 1 columns: element `i` of line `l` is at `l * major + i * minor`.
            let (major, minor) = pass == 0 ? (size, 1) : (1, size)
            for lineIndex in 0..<size {
                let base = pixels + lineIndex * major
                for index in 0..<size {
                    var sum: Float = 0
                    for tap in -radius...radius {
                        sum += weights[tap + radius] * base[min(max(index + tap, 0), size - 1) * minor]
                    }
                    line[index] = sum
                }
                for index in 0..<size { base[index * minor] = line[index] }
            }
        }
    }

    /// Rounds the pixels to an 8-bit image, transforms it and writes the result back.
    private static func roundTrip(_ pixels: UnsafeMutablePointer<Float>, size: Int,
                                  _ transform: (GrayImage) -> [UInt8]) {
        let bytes = (0..<size * size).map { UInt8(min(max(pixels[$0], 0), 255).rounded()) }
        let result = transform(GrayImage(width: size, height: size, pixels: bytes))
        for index in 0..<size * size { pixels[index] = Float(result[index]) }
    }

    private static func jpegRoundTrip(_ image: GrayImage, quality: Int) -> [UInt8] {
        do {
            let encoded = try ImageCodec.encodeJPEG(pixels: image.pixels, width: image.width, height: image.height,
                                                    layout: .gray, quality: quality)
            return try ImageCodec.decode(encoded, layout: .gray, source: "JPEG corruption").pixels
        } catch {
            // Only an allocation failure inside TurboJPEG can get here: the image is a valid 8-bit buffer.
            preconditionFailure("JPEG round trip of a valid \(image.width)x\(image.height) image failed: \(error)")
        }
    }

    /// Sets the box given as fractions of the side (`left..<right`, `top..<bottom`) to `value`.
    private static func fill(_ pixels: UnsafeMutablePointer<Float>, size: Int, value: Float,
                             left: Float, right: Float, top: Float, bottom: Float) {
        func edge(_ fraction: Float) -> Int { min(max(Int((fraction * Float(size)).rounded()), 0), size) }
        let columns = edge(left)..<max(edge(left), edge(right))
        for row in edge(top)..<max(edge(top), edge(bottom)) {
            for column in columns { pixels[row * size + column] = value }
        }
    }
}
