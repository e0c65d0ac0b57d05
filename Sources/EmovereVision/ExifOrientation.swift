/// The EXIF orientation of a photo (tag 0x0112): how the stored pixels must be
/// rotated or mirrored to be displayed upright.
public enum ExifOrientation: Int, Sendable, CaseIterable, Codable {
    /// Stored upright.
    case up = 1
    /// Mirrored left-right.
    case upMirrored = 2
    /// Rotated 180 degrees.
    case down = 3
    /// Mirrored top-bottom.
    case downMirrored = 4
    /// Mirrored across the main diagonal (transpose).
    case leftMirrored = 5
    /// Must be rotated 90 degrees clockwise to be upright.
    case right = 6
    /// Mirrored across the anti-diagonal (transverse).
    case rightMirrored = 7
    /// Must be rotated 90 degrees counter-clockwise to be upright.
    case left = 8

    /// Whether displaying the image upright swaps its width and height.
    public var swapsDimensions: Bool { rawValue >= 5 }

    /// The orientation stored in the APP1 Exif segment of a JPEG stream, or nil when the
    /// stream has none (or it is malformed: the parser never traps or reads out of bounds).
    public init?(jpeg bytes: UnsafeRawBufferPointer) {
        guard let value = ExifOrientation.parseJPEG(bytes), let orientation = ExifOrientation(rawValue: value) else {
            return nil
        }
        self = orientation
    }

    /// The orientation stored in the APP1 Exif segment of a JPEG stream, or nil (see `init?(jpeg:)`).
    public init?(jpeg bytes: [UInt8]) {
        guard let orientation = bytes.withUnsafeBytes({ ExifOrientation(jpeg: $0) }) else { return nil }
        self = orientation
    }

    /// Walks the JPEG marker segments up to the start of scan, looking for `APP1 "Exif\0\0"`.
    private static func parseJPEG(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return nil }
        var offset = 2
        while offset + 4 <= bytes.count {
            guard bytes[offset] == 0xFF else { return nil }
            let marker = bytes[offset + 1]
            if marker == 0xFF { // fill byte
                offset += 1
                continue
            }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { // no length field
                offset += 2
                continue
            }
            if marker == 0xDA || marker == 0xD9 { return nil } // start of scan / end of image
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard length >= 2, offset + 2 + length <= bytes.count else { return nil }
            if marker == 0xE1 {
                let start = offset + 4
                let end = offset + 2 + length
                if let value = parseExif(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) {
                    return value
                }
            }
            offset += 2 + length
        }
        return nil
    }

    /// Reads IFD0's orientation entry from an APP1 payload (`"Exif\0\0"` + TIFF structure).
    private static func parseExif(_ payload: UnsafeRawBufferPointer) -> Int? {
        let exifHeader: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0x00, 0x00]
        guard payload.count >= 6 + 8, payload.prefix(6).elementsEqual(exifHeader) else { return nil }
        let tiff = UnsafeRawBufferPointer(rebasing: payload[6...])
        let littleEndian: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return nil
        }
        func read16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            let a = Int(tiff[at]), b = Int(tiff[at + 1])
            return littleEndian ? (b << 8 | a) : (a << 8 | b)
        }
        func read32(_ at: Int) -> Int? {
            guard let first = read16(at), let second = read16(at + 2) else { return nil }
            return littleEndian ? (second << 16 | first) : (first << 16 | second)
        }
        guard read16(2) == 42, let ifdOffset = read32(4), let entryCount = read16(ifdOffset) else { return nil }
        for entry in 0..<entryCount {
            let base = ifdOffset + 2 + entry * 12
            guard let tag = read16(base), let type = read16(base + 2) else { return nil }
            guard tag == 0x0112 else { continue }
            switch type {
            case 3: return read16(base + 8) // SHORT
            case 4: return read32(base + 8) // LONG (non-standard but seen in the wild)
            default: return nil
            }
        }
        return nil
    }
}
