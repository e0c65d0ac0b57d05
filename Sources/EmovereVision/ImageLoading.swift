#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading whole files into memory, with errors that name the path.
public enum ImageFile {
    /// The bytes of the file at `path`.
    public static func bytes(atPath path: String) throws(VisionError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        if (status.st_mode & S_IFMT) == S_IFDIR {
            throw .unreadable(path: path, reason: "expected a file, found a directory")
        }
        let expected = Int(status.st_size)
        var bytes = [UInt8](repeating: 0, count: max(expected, 0))
        var total = 0
        var failure: Int32 = 0
        bytes.withUnsafeMutableBytes { buffer in
            while total < expected, let base = buffer.baseAddress {
                let count = read(descriptor, base + total, expected - total)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if count == 0 { break }
                total += count
            }
        }
        if failure != 0 { throw .unreadable(path: path, reason: String(cString: strerror(failure))) }
        if total < expected { bytes.removeSubrange(total...) }
        return bytes
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
