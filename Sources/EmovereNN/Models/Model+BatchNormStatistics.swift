import EmovereTensor

extension Model {
    /// Replaces every batch norm's running mean and variance by their mean over `batchCount` training-mode forward
    /// passes, `fill(index, input)` writing batch `index` into `input` `[batchSize, S, S, 1]`. Weights are unchanged.
    ///
    /// For weight averages, whose averaged statistics belong to none of the averaged networks, and for models whose
    /// statistics were gathered on augmented images: re-estimated on clean faces they describe the inputs of
    /// inference.
    public func recomputeBatchNormStatistics(batchCount: Int, batchSize: Int, fill: (Int, Tensor) -> Void) {
        precondition(batchCount > 0 && batchSize > 1, "expected batches of at least 2 images, received \(batchCount) of \(batchSize)")
        let norms = network.nestedLayers.compactMap { $0 as? BatchNorm }
        for norm in norms { norm.estimatedBatches = 0 }
        defer { for norm in norms { norm.estimatedBatches = nil } }
        let size = architecture.inputSize
        let input = Tensor(shape: [batchSize, size, size, 1])
        for index in 0..<batchCount {
            fill(index, input)
            _ = logits(input, mode: ForwardMode(isTraining: true, seed: UInt64(index)))
        }
    }
}
