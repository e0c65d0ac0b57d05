/// The encoded image formats EmovereVision reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable, Codable {
    case jpeg
    case png

    /// The format whose signature starts `bytes`, or nil when none matches.
    public init?(sniffing bytes: UnsafeRawBufferPointer) {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF {
            self = .jpeg
        } else if bytes.count >= 8, bytes[0] == 0x89, bytes[1] == 0x50, bytes[2] == 0x4E, bytes[3] == 0x47,
                  bytes[4] == 0x0D, bytes[5] == 0x0A, bytes[6] == 0x1A, bytes[7] == 0x0A {
            self = .png
        } else {
            return nil
        }
    }

    /// The format whose signature starts `bytes`, or nil when none matches.
    public init?(sniffing bytes: [UInt8]) {
        guard let format = bytes.withUnsafeBytes({ ImageFormat(sniffing: $0) }) else { return nil }
        self = format
    }
}
