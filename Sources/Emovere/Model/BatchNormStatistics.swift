import EmovereData
import EmovereNN

/// Re-estimating a model's batch-norm running statistics on clean faces (`Model.recomputeBatchNormStatistics`).
public enum BatchNormStatistics {
    /// Sets `model`'s running statistics to the mean of its batch statistics over the faces of `images` (resized to
    /// the model's input), unaugmented, `batchSize` at a time in a fixed shuffled order (a last partial batch left
    /// out): image folders load class by class, and batches of one class would miss the variance between classes.
    /// Returns the number of faces used.
    @discardableResult
    public static func recompute(_ model: Model, preprocessing: Preprocessing, on images: FaceDataset,
                                 batchSize: Int = 32, progress: ProgressSinkFactory? = nil) throws(TrainingError) -> Int {
        guard batchSize > 1, images.count >= batchSize else {
            throw .notEnoughStatisticsData(count: images.count, batchSize: max(batchSize, 2))
        }
        let size = preprocessing.inputSize
        let faces = images.imageSize == size ? images : images.resized(to: size)
        let filler = InputBatch(preprocessing: preprocessing)
        let batches = BatchSampler(count: faces.count, seed: 0).batches(epoch: 0, batchSize: batchSize, dropLast: true)
        let batchCount = batches.count
        let reporter = progress?(batchCount * batchSize, "statistics")
        model.recomputeBatchNormStatistics(batchCount: batchCount, batchSize: batchSize) { index, input in
            filler.fill(input, from: faces, indices: batches[index], view: .original)
            reporter?.update(completed: (index + 1) * batchSize, metrics: [])
        }
        reporter?.finish(metrics: [])
        return batchCount * batchSize
    }
}
