import EmovereCore

/// Reading image files whole, with errors that name the path.
public enum ImageFile {
    /// The most bytes one photo may have, from a file, a download or standard input (256 MiB: a 100-megapixel photo,
    /// the default `--max-pixels`, in JPEG or a photographic PNG).
    public static let maximumBytes = 256 << 20

    /// The bytes of the regular file at `path` (`FileContents`), at most `maximumBytes`.
    public static func bytes(atPath path: String) throws(VisionError) -> [UInt8] {
        do {
            return try FileContents.bytes(atPath: path, maximumBytes: maximumBytes)
        } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
    }
}

/// An 8-bit image that JPEG and PNG streams decode to and encode from (`GrayImage`, `RGBImage`): `width * height`
/// pixels of `layout`, row by row.
public protocol CodedImage {
    /// How each pixel is stored in `pixels`.
    static var layout: ImageCodec.PixelLayout { get }
    var width: Int { get }
    var height: Int { get }
    var pixels: [UInt8] { get }
    init(width: Int, height: Int, pixels: [UInt8])
}

extension CodedImage {
    /// Decodes the JPEG or PNG file at `path` to `layout` (JPEG EXIF orientation applied).
    public init(contentsOf path: String, limits: ImageLimits = .standard) throws(VisionError) {
        try self.init(decoding: try ImageFile.bytes(atPath: path), source: path, limits: limits)
    }

    /// Decodes a JPEG or PNG stream to `layout`; `source` names the data in errors.
    public init(decoding bytes: [UInt8], source: String = "image data",
                limits: ImageLimits = .standard) throws(VisionError) {
        let decoded = try ImageCodec.decode(bytes, layout: Self.layout, source: source, limits: limits)
        self.init(width: decoded.width, height: decoded.height, pixels: decoded.pixels)
    }

    /// The image encoded as PNG (lossless).
    public func pngData() throws(VisionError) -> [UInt8] {
        try ImageCodec.encodePNG(pixels: pixels, width: width, height: height, layout: Self.layout)
    }

    /// The image encoded as JPEG at `quality` (1...100): single-channel for gray, 4:2:0 for RGB.
    public func jpegData(quality: Int = 90) throws(VisionError) -> [UInt8] {
        try ImageCodec.encodeJPEG(pixels: pixels, width: width, height: height, layout: Self.layout, quality: quality)
    }
}

extension GrayImage: CodedImage {
    public static var layout: ImageCodec.PixelLayout { .gray }
}

extension RGBImage: CodedImage {
    public static var layout: ImageCodec.PixelLayout { .rgb }
}
