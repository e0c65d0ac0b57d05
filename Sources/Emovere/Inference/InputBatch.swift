import EmovereData
import EmovereTensor

/// Fills model-input tensors `[N, S, S, 1]` from a `FaceDataset`, applying augmentation (training)
/// or a deterministic view (evaluation), then the model's preprocessing.
public struct InputBatch {
    public let preprocessing: Preprocessing

    public init(preprocessing: Preprocessing) {
        self.preprocessing = preprocessing
    }

    /// A deterministic view of an image used for test-time augmentation.
    public enum View: Sendable {
        case original
        case mirrored
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
    public func fill(_ input: Tensor, from dataset: FaceDataset, indices: Range<Int>, view: View) {
        let size = preprocessing.inputSize
        precondition(dataset.imageSize == size, "dataset images are \(dataset.imageSize)px, model input \(size)px")
        let pixels = size * size
        dataset.pixels.withUnsafeBufferPointer { buffer in
            for (slot, image) in indices.enumerated() {
                let source = buffer.baseAddress! + image * pixels
                let output = input.pointer + slot * pixels
                for y in 0..<size {
                    for x in 0..<size {
                        let sourceX = view == .mirrored ? size - 1 - x : x
                        output[y * size + x] = Float(source[y * size + sourceX])
                    }
                }
                preprocessing.apply(output, count: pixels)
            }
        }
    }
}
