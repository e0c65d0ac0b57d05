import EmovereCore
import EmovereVision

/// Square grayscale face images with emotion labels, stored contiguously:
/// image `i` is `pixels[i * pixelsPerImage ..< (i + 1) * pixelsPerImage]`, row-major.
public struct FaceDataset: Sendable, Equatable {
    /// The side length of every image in pixels (48 for FER2013).
    public let imageSize: Int
    /// `count * imageSize * imageSize` bytes.
    public private(set) var pixels: [UInt8]
    /// One `Emotion.rawValue` (0...6) per image.
    public private(set) var labels: [Int]
    /// The class folder and file name each image was read from (e.g. `angry/Training_10118481.png`; FER2013 repeats
    /// a few file names in two class folders), used to join extra annotations such as FER+ votes; empty when the
    /// images did not come from files.
    public private(set) var sources: [String]

    /// Creates a dataset; `pixels.count` must be `labels.count * imageSize * imageSize`, every
    /// label a valid `Emotion` raw value, and `sources` empty or one name per image.
    public init(imageSize: Int, pixels: [UInt8], labels: [Int], sources: [String] = []) {
        precondition(imageSize > 0 && pixels.count == labels.count * imageSize * imageSize,
                     "FaceDataset expects \(labels.count) x \(imageSize)x\(imageSize) pixels, received \(pixels.count)")
        precondition(labels.allSatisfy { (0..<Emotion.count).contains($0) }, "FaceDataset labels must be 0..<\(Emotion.count)")
        precondition(sources.isEmpty || sources.count == labels.count,
                     "FaceDataset expects no sources or one per image, received \(sources.count) for \(labels.count)")
        self.imageSize = imageSize
        self.pixels = pixels
        self.labels = labels
        self.sources = sources
    }

    /// An empty dataset of `imageSize` x `imageSize` images.
    public init(imageSize: Int) {
        self.init(imageSize: imageSize, pixels: [], labels: [], sources: [])
    }

    /// The number of images.
    public var count: Int { labels.count }

    /// `imageSize * imageSize`.
    public var pixelsPerImage: Int { imageSize * imageSize }

    /// The number of images of each class, indexed by `Emotion.rawValue`.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: Emotion.count)
        for label in labels { counts[label] += 1 }
        return counts
    }

    /// The index in `pixels` of the first pixel of image `index`.
    public func pixelOffset(of index: Int) -> Int { index * pixelsPerImage }

    /// The class of image `index`.
    public func emotion(at index: Int) -> Emotion {
        Emotion(rawValue: labels[index]) ?? .neutral // labels are validated on construction
    }

    /// Image `index` as a `GrayImage` (a copy).
    public func image(at index: Int) -> GrayImage {
        let start = pixelOffset(of: index)
        return GrayImage(width: imageSize, height: imageSize, pixels: Array(pixels[start..<start + pixelsPerImage]))
    }

    /// Calls `body` with a pointer to the `imageSize * imageSize` pixels of image `index`.
    public func withPixels<Result>(ofImage index: Int,
                                   _ body: (UnsafePointer<UInt8>) throws -> Result) rethrows -> Result {
        precondition(index >= 0 && index < count, "image index \(index) out of range 0..<\(count)")
        return try pixels.withUnsafeBufferPointer { buffer in
            try body(buffer.baseAddress! + pixelOffset(of: index)) // non-empty: index < count
        }
    }

    /// Appends one image (`imageSize * imageSize` pixels) with its class (and its source, when the dataset
    /// keeps sources).
    public mutating func append(pixels image: some Collection<UInt8>, emotion: Emotion, source: String? = nil) {
        precondition(image.count == pixelsPerImage, "expected \(pixelsPerImage) pixels, received \(image.count)")
        precondition(count == 0 || (source != nil) == !sources.isEmpty, "a dataset keeps a source for every image or for none")
        pixels.append(contentsOf: image)
        labels.append(emotion.rawValue)
        if let source { sources.append(source) }
    }

    /// The images at `indices`, in that order.
    public func subset(_ indices: some Sequence<Int>) -> FaceDataset {
        var result = FaceDataset(imageSize: imageSize)
        for index in indices {
            let start = pixelOffset(of: index)
            result.pixels.append(contentsOf: pixels[start..<start + pixelsPerImage])
            result.labels.append(labels[index])
            if !sources.isEmpty { result.sources.append(sources[index]) }
        }
        return result
    }

    /// Splits off a stratified, shuffled hold-out set: from each class, `round(n * holdOutFraction)`
    /// images chosen with `seed` go to `heldOut`; both parts keep the original order.
    /// The same dataset, fraction and seed always give the same split. A chosen image whose pixels equal an image's
    /// that stays (FER2013's Training split holds about two thousand exact duplicates) is left out of both: a copy of
    /// a training image, whatever its label, would flatter the model in validation.
    public func split(holdOutFraction: Double, seed: UInt64) -> (remaining: FaceDataset, heldOut: FaceDataset) {
        let fraction = min(max(holdOutFraction, 0), 1)
        var byClass = [[Int]](repeating: [], count: Emotion.count)
        for (index, label) in labels.enumerated() { byClass[label].append(index) }
        var random = SplitMix64(seed: seed)
        var isHeldOut = [Bool](repeating: false, count: count)
        for var members in byClass {
            members.shuffle(using: &random)
            let take = Int((Double(members.count) * fraction).rounded())
            for index in members.prefix(take) { isHeldOut[index] = true }
        }
        let remaining = (0..<count).filter { !isHeldOut[$0] }
        let image = { (index: Int) in pixels[pixelOffset(of: index)..<pixelOffset(of: index + 1)] }
        let remainingImages = Set(remaining.map(image))
        let heldOut = (0..<count).filter { isHeldOut[$0] && !remainingImages.contains(image($0)) }
        return (subset(remaining), subset(heldOut))
    }
}

extension FaceDataset {
    /// Every image resampled to `size` x `size` (area averaging when shrinking, bilinear when enlarging).
    public func resized(to size: Int) -> FaceDataset {
        guard size != imageSize else { return self }
        var result = FaceDataset(imageSize: size)
        result.pixels.reserveCapacity(count * size * size)
        for index in 0..<count {
            result.pixels += image(at: index).resized(width: size, height: size).pixels
        }
        result.labels = labels
        result.sources = sources
        return result
    }

    /// Every image corrupted by `corruption` at `severity`; image `i` draws from a generator derived from
    /// `seed` and `i`, so the result does not depend on the order or the threads that produce it.
    public func corrupted(by corruption: Corruption, severity: Float, seed: UInt64) -> FaceDataset {
        guard count > 0 else { return self }
        var result = self
        let size = imageSize, area = pixelsPerImage
        result.pixels.withUnsafeMutableBufferPointer { buffer in
            let pixels = UnsafeSendable(buffer.baseAddress!)  // count > 0
            Parallel.forEachChunk(count) { _, range in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: area) { values in
                    let values = values.baseAddress!
                    for image in range {
                        let bytes = pixels.value + image * area
                        for index in 0..<area { values[index] = Float(bytes[index]) }
                        var random = SplitMix64(seed: seed).derived(stream: UInt64(image))
                        corruption.apply(to: values, size: size, severity: severity, random: &random)
                        for index in 0..<area { bytes[index] = UInt8(min(max(values[index], 0), 255).rounded()) }
                    }
                }
            }
        }
        return result
    }
}
