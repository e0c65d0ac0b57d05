/// Bounds checked against an image header before any pixel memory is allocated,
/// so that a small malicious file cannot claim gigapixels (a "decompression bomb"), and how large a JPEG is
/// decoded.
public struct ImageLimits: Sendable, Equatable, Codable {
    /// The largest accepted `width * height`.
    public var maximumPixels: Int
    /// When set, a JPEG stored with more pixels is decoded at a reduced scale: the largest of libjpeg-turbo's
    /// scales (n/8) that gives at most this many pixels, or 1/8 when none does (the DCT skips the detail, so both
    /// the time and the memory shrink). PNG files always decode at their stored size. Nil: every image at full
    /// size.
    public var maximumDecodedPixels: Int?

    /// Creates limits accepting at most `maximumPixels` pixels (100 megapixels by default), decoding JPEGs larger
    /// than `maximumDecodedPixels` (when set) at a reduced scale.
    public init(maximumPixels: Int = 100_000_000, maximumDecodedPixels: Int? = nil) {
        self.maximumPixels = maximumPixels
        self.maximumDecodedPixels = maximumDecodedPixels
    }

    /// The default limits: 100 megapixels, decoded at full size.
    public static let standard = ImageLimits()

    /// The range either limit may be set in: up to a gigapixel (3 GB of RGB), beyond which decoding would fail to
    /// allocate rather than report a photo too large.
    public static let settableRange = 1...1_000_000_000

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
