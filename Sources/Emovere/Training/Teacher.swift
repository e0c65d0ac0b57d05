import EmovereData
import EmovereNN

/// Knowledge distillation's targets (`TrainingRecipe.distillation`): a trained model's class probabilities for
/// each training image, computed once on the clean image (resized to the teacher's input) with the distillation's
/// test-time augmentation (by default the teacher card's). The student learns to give them for every augmented and
/// corrupted view of the image.
enum Teacher {
    /// Per image of `training`, the teacher's `classCount` probabilities at the distillation temperature: read from
    /// `cache` when it holds them, else computed and written there. The cache records the teacher's tensors (by
    /// checksum), views, temperature and image count; a cache that disagrees means the teacher changed since the run
    /// began, which is an error rather than a silent change of targets.
    static func distributions(_ distillation: Distillation, for training: FaceDataset, classCount: Int, cache: String?,
                              progress: ProgressSinkFactory? = nil) throws -> [[Float]] {
        let file = try SafeTensorsFile(contentsOf: distillation.teacher)
        let (trainable, card) = try ModelFile.load(file, path: distillation.teacher)
        let model = try trainable.inferenceModel()
        guard card.architecture.classCount == classCount else {
            throw TrainingError.teacherMismatch(path: distillation.teacher, expectedClasses: classCount,
                                                found: card.architecture.classCount)
        }
        let tensors = SHA256.hexDigest(of: try SafeTensorsFile(tensors: file.tensors).serialized())
        let settings = ["teacherTensorsSHA256": tensors, "temperature": "\(distillation.temperature)",
                        "images": "\(training.count)"]
        if let cache, let stored = try? SafeTensorsFile(contentsOf: cache) {
            let views = stored.metadata["testTimeAugmentation"]
            guard stored.metadata.filter({ $0.key != "testTimeAugmentation" }) == settings,
                  distillation.testTimeAugmentation == nil || views == distillation.testTimeAugmentation?.rawValue,
                  let probabilities = try? stored.tensor(named: "probabilities"),
                  probabilities.shape == [training.count, classCount]
            else {
                throw TrainingError.teacherChanged(path: distillation.teacher, cache: cache)
            }
            return rows(probabilities.values, classCount: classCount)
        }
        let views = distillation.testTimeAugmentation ?? card.testTimeAugmentation ?? .none
        let probabilities = try computed(model, card: card, views: views, temperature: distillation.temperature,
                                         for: training, progress: progress)
        if let cache {
            try SafeTensorsFile(tensors: ["probabilities": NamedArray(shape: [training.count, classCount], values: probabilities)],
                                metadata: settings.merging(["testTimeAugmentation": views.rawValue]) { $1 }).write(to: cache)
        }
        return rows(probabilities, classCount: classCount)
    }

    private static func rows(_ probabilities: [Float], classCount: Int) -> [[Float]] {
        (0..<probabilities.count / classCount).map { Array(probabilities[($0 * classCount)..<(($0 + 1) * classCount)]) }
    }

    private static func computed(_ model: InferenceModel, card: ModelCard, views: TestTimeAugmentation,
                                 temperature: Float, for training: FaceDataset,
                                 progress: ProgressSinkFactory?) throws -> [Float] {
        let size = card.preprocessing.inputSize
        let images = training.imageSize == size ? training : training.resized(to: size)
        let evaluator = Evaluator(model: model, preprocessing: card.preprocessing, testTimeAugmentation: views,
                                  temperature: temperature)
        let reporter = progress?(images.count, "teacher")
        let probabilities = try evaluator.evaluate(images) { reporter?.update(completed: $0, metrics: []) }.probabilities
        reporter?.finish(metrics: [])
        return probabilities
    }
}
