/// An error raised while reading, decoding or encoding an image.
///
/// Every case names the file or source it concerns, and its `description` says what was
/// expected and what was received.
public enum VisionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are neither a JPEG (`FF D8 FF`) nor a PNG (`89 50 4E 47 0D 0A 1A 0A`) stream.
    case unsupportedFormat(source: String, leadingBytes: [UInt8])
    /// The stream starts like a supported format but cannot be decoded.
    case corrupt(source: String, reason: String)
    /// The header announces more pixels than `limit` allows (see `ImageLimits`).
    case tooLarge(source: String, width: Int, height: Int, limit: Int)
    /// The source holds no bytes at all.
    case empty(source: String)
    /// The file could not be opened or read.
    case unreadable(path: String, reason: String)
    /// Encoding an image failed.
    case encodingFailed(format: String, reason: String)

    public var description: String {
        switch self {
        case let .unsupportedFormat(source, leadingBytes):
            let hex = leadingBytes.isEmpty
                ? "nothing"
                : leadingBytes.map { byte in
                    let digits = String(byte, radix: 16, uppercase: true)
                    return digits.count == 1 ? "0" + digits : digits
                }.joined(separator: " ")
            return "\(source): unsupported image format: expected a JPEG (FF D8 FF) or PNG (89 50 4E 47) "
                + "signature, found \(hex)"
        case let .corrupt(source, reason):
            return "\(source): corrupt image: \(reason)"
        case let .tooLarge(source, width, height, limit):
            return "\(source): image too large: header announces \(width)x\(height) = \(width * height) pixels, "
                + "the limit is \(limit) pixels"
        case let .empty(source):
            return "\(source): empty image data: expected a JPEG or PNG stream, found 0 bytes"
        case let .unreadable(path, reason):
            return "\(path): cannot read file: \(reason)"
        case let .encodingFailed(format, reason):
            return "cannot encode \(format): \(reason)"
        }
    }
}
