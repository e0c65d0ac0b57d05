import EmovereCore
import EmovereData
import EmovereTensor
import EmovereVision

/// Fills model-input tensors `[N, S, S, 1]` from a `FaceDataset`, applying augmentation (training)
/// or a deterministic view (evaluation), then the model's preprocessing.
public struct InputBatch {
    public let preprocessing: Preprocessing

    public init(preprocessing: Preprocessing) {
        self.preprocessing = preprocessing
    }

    /// A deterministic view of an image used for test-time augmentation.
    public enum View: Sendable, Equatable {
        case original
        case mirrored
        /// The crop of 90 % of the side at a corner (`x`, `y` each 0 or 1) or the centre (0.5, 0.5),
        /// resized back to the full size, optionally mirrored.
        case crop(x: Float, y: Float, mirrored: Bool)

        /// The ten-crop views: four corners and the centre, each also mirrored.
        public static let tenCrop: [View] = {
            let positions: [(Float, Float)] = [(0, 0), (1, 0), (0, 1), (1, 1), (0.5, 0.5)]
            var views: [View] = []
            for (x, y) in positions {
                views.append(.crop(x: x, y: y, mirrored: false))
                views.append(.crop(x: x, y: y, mirrored: true))
            }
            return views
        }()

        /// Writes this view of the square gray `face` (`S x S`) to the `S * S` floats at `destination`, in
        /// pixel units (no preprocessing).
        public func write(_ face: GrayImage, to destination: UnsafeMutablePointer<Float>) {
            let size = face.width
            precondition(face.height == size, "views need a square face, received \(face.width)x\(face.height)")
            var source = face
            var mirrored = self == .mirrored
            if case let .crop(x, y, mirror) = self {
                let side = Int((Float(size) * 0.9).rounded())
                let origin = (Int((Float(size - side) * x).rounded()), Int((Float(size - side) * y).rounded()))
                source = face.cropped(to: Rect(x: origin.0, y: origin.1, width: side, height: side))
                    .resized(width: size, height: size)
                mirrored = mirror
            }
            for row in 0..<size {
                for column in 0..<size {
                    destination[row * size + column] = Float(source.pixels[row * size + (mirrored ? size - 1 - column : column)])
                }
            }
        }
    }

    /// Writes images `indices` of `dataset` into `input` (`[indices.count, S, S, 1]`), augmented with
    /// `augmentation`; the random stream of sample `i` derives from `seed` and `indices[i]`, so the result
    /// does not depend on threading.
    public func fill(
        _ input: Tensor, from dataset: FaceDataset, indices: ArraySlice<Int>, augmentation: Augmentation, seed: UInt64
    ) {
        let size = preprocessing.inputSize
        precondition(dataset.imageSize == size, "dataset images are \(dataset.imageSize)px, model input \(size)px")
        let pixels = size * size
        let destination = UnsafeSendable(input.pointer)
        let order = Array(indices)
        let preprocessing = preprocessing
        dataset.pixels.withUnsafeBufferPointer { buffer in
            let source = UnsafeSendable(UnsafeMutablePointer(mutating: buffer.baseAddress!))
            Parallel.forEachChunk(order.count) { _, range in
                for slot in range {
                    let image = order[slot]
                    var random = SplitMix64(seed: seed).derived(stream: UInt64(image))
                    let output = destination.value + slot * pixels
                    augmentation.apply(source: source.value + image * pixels, size: size, destination: output,
                                       random: &random)
                    preprocessing.apply(output, count: pixels)
                }
            }
        }
    }

    /// Writes images `indices` of `dataset` into `input` without randomness, as `view`.
    public func fill(_ input: Tensor, from dataset: FaceDataset, indices: some Sequence<Int>, view: View) {
        let size = preprocessing.inputSize
        precondition(dataset.imageSize == size, "dataset images are \(dataset.imageSize)px, model input \(size)px")
        let pixels = size * size
        for (slot, image) in indices.enumerated() {
            let output = input.pointer + slot * pixels
            view.write(dataset.image(at: image), to: output)
            preprocessing.apply(output, count: pixels)
        }
    }
}
