import EmovereData
import EmovereNN

/// Re-estimating a model's batch-norm running statistics on clean faces (`Model.recomputeBatchNormStatistics`).
public enum BatchNormStatistics {
    /// Sets `model`'s running statistics to the mean of its batch statistics over the faces of `images` (resized to
    /// the model's input), unaugmented, in dataset order, `batchSize` at a time (a last partial batch left out).
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
        let batchCount = faces.count / batchSize
        let reporter = progress?(batchCount * batchSize, "statistics")
        model.recomputeBatchNormStatistics(batchCount: batchCount, batchSize: batchSize) { index, input in
            filler.fill(input, from: faces, indices: (index * batchSize)..<((index + 1) * batchSize), view: .original)
            reporter?.update(completed: (index + 1) * batchSize, metrics: [])
        }
        reporter?.finish(metrics: [])
        return batchCount * batchSize
    }
}
