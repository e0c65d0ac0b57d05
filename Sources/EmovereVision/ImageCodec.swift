import CPNG
import CTurboJPEG

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin

#elseif canImport(Musl)

import Musl
#endif

/// Decoding and encoding of JPEG (libjpeg-turbo's TurboJPEG API) and PNG (libpng's simplified API).
///
/// Every function reports failures as `VisionError` values; nothing traps on malformed input.
/// Image dimensions are checked against `ImageLimits` from the header, before pixels are allocated.
public enum ImageCodec {
    /// The longest side a JPEG file can have (libjpeg's `JPEG_MAX_DIMENSION`), in pixels.
    public static let maximumJPEGSide = 65_500

    /// The pixel layout requested from a decoder.
    public enum PixelLayout: Int, Sendable {
        /// One byte per pixel, luma.
        case gray = 1
        /// Three bytes per pixel, red, green, blue.
        case rgb = 3
    }

    /// A decoded image: `width * height * layout.rawValue` bytes.
    public struct DecodedImage: Sendable {
        /// Columns, after EXIF orientation.
        public var width: Int
        /// Rows, after EXIF orientation.
        public var height: Int
        /// Bytes per pixel and their meaning.
        public var layout: PixelLayout
        /// `width * height * layout.rawValue` bytes, row by row.
        public var pixels: [UInt8]
        /// The stored image's columns and rows after EXIF orientation: `width` and `height` unless
        /// `ImageLimits.maximumDecodedPixels` reduced the decode.
        public var storedWidth: Int, storedHeight: Int

        /// A decoded image of its stored size unless `storedWidth` and `storedHeight` say otherwise.
        public init(width: Int, height: Int, layout: PixelLayout, pixels: [UInt8],
                    storedWidth: Int? = nil, storedHeight: Int? = nil) {
            self.width = width
            self.height = height
            self.layout = layout
            self.pixels = pixels
            self.storedWidth = storedWidth ?? width
            self.storedHeight = storedHeight ?? height
        }
    }

    // MARK: - Decoding

    /// Decodes a JPEG or PNG stream (sniffed from its magic bytes) into `layout`.
    ///
    /// JPEG EXIF orientation is applied, so the result is upright. `source` names the data in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, layout: PixelLayout, source: String,
                              limits: ImageLimits = .standard) throws(VisionError) -> DecodedImage {
        guard !bytes.isEmpty else { throw .empty(source: source) }
        switch ImageFormat(sniffing: bytes) {
        case .jpeg:
            return try decodeJPEG(bytes, layout: layout, source: source, limits: limits)
        case .png:
            return try decodePNG(bytes, layout: layout, source: source, limits: limits)
        case nil:
            throw .unsupportedFormat(source: source, leadingBytes: Array(bytes.prefix(8)))
        }
    }

    /// Decodes a JPEG or PNG stream held in an array (see `decode(_:layout:source:limits:)`).
    public static func decode(_ bytes: [UInt8], layout: PixelLayout, source: String,
                              limits: ImageLimits = .standard) throws(VisionError) -> DecodedImage {
        do {
            return try bytes.withUnsafeBytes { buffer in
                try decode(buffer, layout: layout, source: source, limits: limits)
            }
        } catch let error as VisionError {
            throw error
        } catch {
            throw .corrupt(source: source, reason: "\(error)")
        }
    }

    /// Decodes a JPEG stream, treating libjpeg warnings (for example "Premature end of JPEG file")
    /// as corruption; at a reduced scale when it is larger than `limits.maximumDecodedPixels`.
    public static func decodeJPEG(_ bytes: UnsafeRawBufferPointer, layout: PixelLayout, source: String,
                                  limits: ImageLimits = .standard) throws(VisionError) -> DecodedImage {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), !bytes.isEmpty else {
            throw .empty(source: source)
        }
        guard let handle = tjInitDecompress() else {
            throw .corrupt(source: source, reason: "cannot create a TurboJPEG decompressor")
        }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        if tjDecompressHeader3(handle, base, UInt(bytes.count), &width, &height, &subsampling, &colorspace) != 0 {
            throw .corrupt(source: source, reason: turboJPEGMessage(handle))
        }
        try limits.check(width: Int(width), height: Int(height), source: source)
        let storedWidth = Int(width), storedHeight = Int(height)
        if let target = limits.maximumDecodedPixels, storedWidth * storedHeight > target {
            (width, height) = reducedSize(width: width, height: height, target: target)
        }
        // CMYK and YCCK files (print workflows, Photoshop) decode to CMYK, then convert to RGB as OpenCV does.
        let isCMYK = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let channels = isCMYK ? 4 : layout.rawValue
        let count = Int(width) * Int(height) * channels
        let format = isCMYK ? Int32(TJPF_CMYK.rawValue)
            : layout == .gray ? Int32(TJPF_GRAY.rawValue) : Int32(TJPF_RGB.rawValue)
        var failure: String?
        var pixels = [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
            let status = tjDecompress2(handle, base, UInt(bytes.count), output.baseAddress, width,
                                       width * Int32(channels), height, format,
                                       TJFLAG_STOPONWARNING | EMOVERE_TJFLAG_LIMITSCANS)
            if status != 0 {
                // With TJFLAG_STOPONWARNING a libjpeg warning (e.g. "Premature end of JPEG file" for a
                // truncated scan) also fails; the pixels would be partly grey, so it counts as corruption.
                let isWarning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
                failure = turboJPEGMessage(handle) + (isWarning ? " (libjpeg warning, treated as an error)" : "")
                output.initialize(repeating: 0)
            }
            initialized = count
        }
        if isCMYK {
            let rgb = RGBImage(width: Int(width), height: Int(height), pixels: Self.rgb(fromInvertedCMYK: pixels))
            pixels = layout == .gray ? rgb.grayscale().pixels : rgb.pixels
        }
        if let failure { throw .corrupt(source: source, reason: failure) }
        var image = DecodedImage(width: Int(width), height: Int(height), layout: layout, pixels: pixels,
                                 storedWidth: storedWidth, storedHeight: storedHeight)
        if let orientation = ExifOrientation(jpeg: bytes), orientation != .up {
            image = oriented(image, orientation)
        }
        return image
    }

    /// Decodes a PNG stream; alpha is composited onto black, 16-bit samples are reduced to 8 bits,
    /// colour is converted to gray with `RGBImage.grayscale()` (BT.601 weights on the stored values).
    public static func decodePNG(_ bytes: UnsafeRawBufferPointer, layout: PixelLayout, source: String,
                                 limits: ImageLimits = .standard) throws(VisionError) -> DecodedImage {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { throw .empty(source: source) }
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        if png_image_begin_read_from_memory(&image, base, bytes.count) == 0 {
            throw .corrupt(source: source, reason: pngMessage(&image))
        }
        try limits.check(width: Int(image.width), height: Int(image.height), source: source)
        // 16-bit samples are stored values like 8-bit ones (rounded to 8 bits; OpenCV keeps the high byte), not linear
        // light that libpng would otherwise gamma-encode on the way to 8 bits (a mid-gray 32896 read as 186, not 128).
        image.flags |= png_uint_32(PNG_IMAGE_FLAG_16BIT_sRGB)
        // libpng converts colour to gray in linear light; decode colour as RGB and apply the
        // BT.601 weights on the stored values instead, like OpenCV and like the JPEG path.
        let storedIsColor = image.format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0
        let decodeLayout: PixelLayout = storedIsColor ? .rgb : layout
        image.format = decodeLayout == .gray ? png_uint_32(PNG_FORMAT_GRAY) : png_uint_32(PNG_FORMAT_RGB)
        let width = Int(image.width), height = Int(image.height)
        let stride = width * decodeLayout.rawValue
        var pixels = [UInt8](repeating: 0, count: stride * height)
        let status = pixels.withUnsafeMutableBytes { output in
            png_image_finish_read(&image, nil, output.baseAddress, png_int_32(stride), nil)
        }
        if status == 0 || image.warning_or_error & 2 != 0 {
            throw .corrupt(source: source, reason: pngMessage(&image))
        }
        if decodeLayout != layout {
            let gray = RGBImage(width: width, height: height, pixels: pixels).grayscale()
            return DecodedImage(width: width, height: height, layout: layout, pixels: gray.pixels)
        }
        return DecodedImage(width: width, height: height, layout: layout, pixels: pixels)
    }

    // MARK: - Encoding

    /// Encodes `pixels` (`width * height * layout.rawValue` bytes) as PNG.
    public static func encodePNG(pixels: [UInt8], width: Int, height: Int,
                                 layout: PixelLayout) throws(VisionError) -> [UInt8] {
        guard width > 0, height > 0, pixels.count == width * height * layout.rawValue else {
            throw .encodingFailed(format: "PNG", reason: "expected a non-empty \(width)x\(height) image "
                                  + "of \(width * height * layout.rawValue) bytes, received \(pixels.count) bytes")
        }
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = layout == .gray ? png_uint_32(PNG_FORMAT_GRAY) : png_uint_32(PNG_FORMAT_RGB)
        defer { png_image_free(&image) }
        let stride = png_int_32(width * layout.rawValue)
        var size: png_alloc_size_t = 0
        let sized = pixels.withUnsafeBytes { input in
            png_image_write_to_memory(&image, nil, &size, 0, input.baseAddress, stride, nil)
        }
        guard sized != 0, size > 0 else {
            throw .encodingFailed(format: "PNG", reason: pngMessage(&image))
        }
        var output = [UInt8](repeating: 0, count: Int(size))
        let written = output.withUnsafeMutableBytes { destination in
            pixels.withUnsafeBytes { input in
                png_image_write_to_memory(&image, destination.baseAddress, &size, 0, input.baseAddress, stride, nil)
            }
        }
        guard written != 0 else { throw .encodingFailed(format: "PNG", reason: pngMessage(&image)) }
        output.removeSubrange(Int(size)...)
        return output
    }

    /// Encodes `pixels` as a baseline JPEG; `quality` is clamped to 1...100.
    /// Colour images use 4:2:0 chroma subsampling, gray images a single channel.
    public static func encodeJPEG(pixels: [UInt8], width: Int, height: Int, layout: PixelLayout,
                                  quality: Int = 90) throws(VisionError) -> [UInt8] {
        guard width > 0, height > 0, pixels.count == width * height * layout.rawValue else {
            throw .encodingFailed(format: "JPEG", reason: "expected a non-empty \(width)x\(height) image "
                                  + "of \(width * height * layout.rawValue) bytes, received \(pixels.count) bytes")
        }
        guard let handle = tjInitCompress() else {
            throw .encodingFailed(format: "JPEG", reason: "cannot create a TurboJPEG compressor")
        }
        defer { tjDestroy(handle) }
        let format = layout == .gray ? Int32(TJPF_GRAY.rawValue) : Int32(TJPF_RGB.rawValue)
        let subsampling = layout == .gray ? Int32(TJSAMP_GRAY.rawValue) : Int32(TJSAMP_420.rawValue)
        var output: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = pixels.withUnsafeBufferPointer { input in
            tjCompress2(handle, input.baseAddress, Int32(width), Int32(width * layout.rawValue), Int32(height),
                        format, &output, &size, subsampling, Int32(min(max(quality, 1), 100)), 0)
        }
        defer { if let output { tjFree(output) } }
        guard status == 0, let output else {
            throw .encodingFailed(format: "JPEG", reason: turboJPEGMessage(handle))
        }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }

    // MARK: - Helpers

    /// RGB from the inverted CMYK that Adobe applications write (and libjpeg returns as stored):
    /// `R = C * K / 255`, and likewise for G and B, the conversion of OpenCV's JPEG decoder.
    static func rgb(fromInvertedCMYK cmyk: [UInt8]) -> [UInt8] {
        let count = cmyk.count / 4
        return [UInt8](unsafeUninitializedCapacity: count * 3) { output, initialized in
            for index in 0..<count {
                let black = Int(cmyk[index * 4 + 3])
                for channel in 0..<3 {
                    let value = Int(cmyk[index * 4 + channel])
                    output[index * 3 + channel] = UInt8(black - (((255 - value) * black) >> 8))
                }
            }
            initialized = count * 3
        }
    }

    /// The largest of libjpeg-turbo's scaled sizes (`ceil(dimension * n / 8)`, below full size) with at most
    /// `target` pixels, or the smallest scaled size when none has.
    static func reducedSize(width: Int32, height: Int32, target: Int) -> (width: Int32, height: Int32) {
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count) else { return (width, height) }
        func scaled(_ dimension: Int32, _ factor: tjscalingfactor) -> Int32 {
            (dimension * factor.num + factor.denom - 1) / factor.denom
        }
        func pixels(_ size: (width: Int32, height: Int32)) -> Int { Int(size.width) * Int(size.height) }
        let sizes: [(width: Int32, height: Int32)] = UnsafeBufferPointer(start: factors, count: Int(count))
            .filter { $0.num < $0.denom }
            .map { (scaled(width, $0), scaled(height, $0)) }
            .sorted { pixels($0) > pixels($1) }
        return sizes.first { pixels($0) <= target } ?? sizes.last ?? (width, height)
    }

    private static func turboJPEGMessage(_ handle: tjhandle) -> String {
        guard let message = tjGetErrorStr2(handle) else { return "unknown TurboJPEG error" }
        return String(cString: message)
    }

    private static func pngMessage(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "unknown libpng error" : String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Applies an EXIF orientation: out(x, y) = in(startX + x * stepX + y * stepY ...).
    static func oriented(_ image: DecodedImage, _ orientation: ExifOrientation) -> DecodedImage {
        let width = image.width, height = image.height, channels = image.layout.rawValue
        let outWidth = orientation.swapsDimensions ? height : width
        let outHeight = orientation.swapsDimensions ? width : height
        // Source column/row as affine functions of the output (x, y): ix = ax*x + bx*y + cx, iy = ay*x + by*y + cy.
        let (ax, bx, cx, ay, by, cy): (Int, Int, Int, Int, Int, Int)
        switch orientation {
        case .up: (ax, bx, cx, ay, by, cy) = (1, 0, 0, 0, 1, 0)
        case .upMirrored: (ax, bx, cx, ay, by, cy) = (-1, 0, width - 1, 0, 1, 0)
        case .down: (ax, bx, cx, ay, by, cy) = (-1, 0, width - 1, 0, -1, height - 1)
        case .downMirrored: (ax, bx, cx, ay, by, cy) = (1, 0, 0, 0, -1, height - 1)
        case .leftMirrored: (ax, bx, cx, ay, by, cy) = (0, 1, 0, 1, 0, 0)
        case .right: (ax, bx, cx, ay, by, cy) = (0, 1, 0, -1, 0, height - 1)
        case .rightMirrored: (ax, bx, cx, ay, by, cy) = (0, -1, width - 1, -1, 0, height - 1)
        case .left: (ax, bx, cx, ay, by, cy) = (0, -1, width - 1, 1, 0, 0)
        }
        let stepX = (ay * width + ax) * channels
        let stepY = (by * width + bx) * channels
        let start = (cy * width + cx) * channels
        let count = image.pixels.count
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
            image.pixels.withUnsafeBufferPointer { input in
                guard let source = input.baseAddress, let destination = output.baseAddress else { return }
                var target = 0
                for y in 0..<outHeight {
                    var offset = start &+ y &* stepY
                    for _ in 0..<outWidth {
                        for channel in 0..<channels {
                            destination[target &+ channel] = source[offset &+ channel]
                        }
                        target &+= channels
                        offset &+= stepX
                    }
                }
            }
            initialized = count
        }
        let swaps = orientation.swapsDimensions
        return DecodedImage(width: outWidth, height: outHeight, layout: image.layout, pixels: pixels,
                            storedWidth: swaps ? image.storedHeight : image.storedWidth,
                            storedHeight: swaps ? image.storedWidth : image.storedHeight)
    }
}
