/// Bounds checked against an image header before any pixel memory is allocated,
/// so that a small malicious file cannot claim gigapixels (a "decompression bomb").
public struct ImageLimits: Sendable, Equatable, Codable {
    /// The largest accepted `width * height`.
    public var maximumPixels: Int

    /// Creates limits accepting at most `maximumPixels` pixels (100 megapixels by default).
    public init(maximumPixels: Int = 100_000_000) {
        self.maximumPixels = maximumPixels
    }

    /// The default limits: 100 megapixels.
    public static let standard = ImageLimits()

    /// Throws `VisionError.tooLarge` when a `width` x `height` image exceeds these limits
    /// (or when the dimensions are not positive, as `VisionError.corrupt`).
    public func check(width: Int, height: Int, source: String) throws(VisionError) {
        guard width > 0, height > 0 else {
            throw .corrupt(source: source, reason: "expected positive dimensions, header says \(width)x\(height)")
        }
        let (product, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || product > maximumPixels {
            throw .tooLarge(source: source, width: width, height: height, limit: maximumPixels)
        }
    }
}
