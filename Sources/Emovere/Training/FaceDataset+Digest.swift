import EmovereData
import EmovereFiles

extension FaceDataset {
    /// The SHA-256 (hex) of the images in order: equal for two datasets that hold the same faces with the same labels
    /// in the same order, whatever files they came from. A card's `heldOutDigest`.
    public var contentDigest: String {
        var hash = SHA256()
        hashContent(into: &hash)
        return hash.finalizeHex()
    }

    /// Adds the image size, the count, the labels and the pixels to `hash`.
    func hashContent(into hash: inout SHA256) {
        for header in [imageSize, count] {
            withUnsafeBytes(of: Int64(header).littleEndian) { hash.update($0) }
        }
        labels.map(UInt8.init).withUnsafeBytes { hash.update($0) }
        pixels.withUnsafeBytes { hash.update($0) }
    }
}
