import EmovereData
import EmovereNN

/// Knowledge distillation's targets (`TrainingRecipe.distillation`): a trained model's class probabilities for
/// each training image, computed once on the clean image (resized to the teacher's input) with the teacher card's
/// test-time augmentation. The student learns to give them for every augmented and corrupted view of the image.
enum Teacher {
    /// Per image of `training`, the teacher's `classCount` probabilities at the distillation temperature.
    static func distributions(_ distillation: Distillation, for training: FaceDataset, classCount: Int,
                              showsProgress: Bool) throws -> [[Float]] {
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
        return (0..<images.count).map { Array(probabilities[($0 * classCount)..<(($0 + 1) * classCount)]) }
    }
}
