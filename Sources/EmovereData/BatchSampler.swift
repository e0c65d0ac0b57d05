import EmovereCore

/// Deterministic per-epoch shuffling: the order for an epoch depends only on `(seed, epoch)`,
/// so training can resume at any epoch and reproduce the same batches.
public struct BatchSampler: Sendable, Equatable {
    /// The number of samples.
    public let count: Int
    /// The seed all epoch orders derive from.
    public let seed: UInt64

    /// Creates a sampler over `0..<count`.
    public init(count: Int, seed: UInt64) {
        precondition(count >= 0, "BatchSampler needs a non-negative count, received \(count)")
        self.count = count
        self.seed = seed
    }

    /// A permutation of `0..<count` for `epoch` (Fisher-Yates with a generator derived from seed and epoch).
    public func order(epoch: Int) -> [Int] {
        var random = SplitMix64(seed: seed).derived(stream: UInt64(bitPattern: Int64(epoch)))
        var indices = Array(0..<count)
        indices.shuffle(using: &random)
        return indices
    }

    /// The shuffled indices of `epoch` cut into batches of `batchSize`; the last, shorter batch
    /// is dropped when `dropLast`.
    public func batches(epoch: Int, batchSize: Int, dropLast: Bool = false) -> [ArraySlice<Int>] {
        precondition(batchSize > 0, "batch size must be positive, received \(batchSize)")
        let indices = order(epoch: epoch)
        var result: [ArraySlice<Int>] = []
        var start = 0
        while start < indices.count {
            let end = min(start + batchSize, indices.count)
            if end - start < batchSize && dropLast { break }
            result.append(indices[start..<end])
            start = end
        }
        return result
    }
}
