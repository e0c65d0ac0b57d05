import EmovereData
import EmovereNN

/// Knowledge distillation's targets (`TrainingRecipe.distillation`): a trained model's class probabilities for
/// each training image, computed once on the clean image (resized to the teacher's input) with the teacher card's
/// test-time augmentation. The student learns to give them for every augmented and corrupted view of the image.
enum Teacher {
    /// Per image of `training`, the teacher's `classCount` probabilities at the distillation temperature: read from
    /// `cache` when it holds them for this teacher file (by checksum), temperature and image count, else computed and
    /// written there.
    static func distributions(_ distillation: Distillation, for training: FaceDataset, classCount: Int, cache: String?,
                              showsProgress: Bool) throws -> [[Float]] {
        let key = [
            "teacherSHA256": try ModelFile.checksum(of: SafeTensorsFile(contentsOf: distillation.teacher)),
            "temperature": "\(distillation.temperature)", "images": "\(training.count)",
        ]
        if let cache, let file = try? SafeTensorsFile(contentsOf: cache), file.metadata == key,
           let probabilities = try? file.tensor(named: "probabilities"), probabilities.shape == [training.count, classCount] {
            return rows(probabilities.values, classCount: classCount)
        }
        let probabilities = try computed(distillation, for: training, classCount: classCount, showsProgress: showsProgress)
        if let cache {
            try SafeTensorsFile(tensors: ["probabilities": NamedArray(shape: [training.count, classCount], values: probabilities)],
                                metadata: key).write(to: cache)
        }
        return rows(probabilities, classCount: classCount)
    }

    private static func rows(_ probabilities: [Float], classCount: Int) -> [[Float]] {
        (0..<probabilities.count / classCount).map { Array(probabilities[($0 * classCount)..<(($0 + 1) * classCount)]) }
    }

    private static func computed(_ distillation: Distillation, for training: FaceDataset, classCount: Int,
                                 showsProgress: Bool) throws -> [Float] {
        let (model, card) = try ModelFile.load(distillation.teacher)
        guard card.architecture.classCount == classCount else {
            throw TrainingError.teacherMismatch(path: distillation.teacher, expectedClasses: classCount,
                                                found: card.architecture.classCount)
        }
        model.foldBatchNormsForInference()
        let size = card.preprocessing.inputSize
        let images = training.imageSize == size ? training : training.resized(to: size)
        let evaluator = Evaluator(model: model, preprocessing: card.preprocessing,
                                  testTimeAugmentation: card.testTimeAugmentation ?? .none,
                                  temperature: distillation.temperature)
        let progress = showsProgress ? ProgressBar(total: images.count, label: "teacher") : nil
        let probabilities = try evaluator.evaluate(images) { progress?.update(completed: $0) }.probabilities
        progress?.finish()
        return probabilities
    }
}
