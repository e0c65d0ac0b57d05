import EmovereCore
import EmovereNN
import EmovereTensor
import EmovereVision
import Foundation

/// Knowledge distillation's targets with `.augmented` input (`Distillation.Input`): the teachers answer each training
/// batch exactly as the student sees it, shifted, blurred, compressed or covered, single view ("consistent" teaching,
/// Beyer et al. 2022), so the student learns what can still be read from a degraded face rather than the answer
/// for the clean one. Costs one inference pass per teacher and step; a teacher of another input size reads the batch
/// resampled to it.
final class BatchTeachers {
    private let models: [InferenceModel]
    private let weight: Float
    private let temperature: Float
    /// Per teacher, the batch resampled to its input size (nil: it reads the student's size); sized on first use.
    private var resampled: [Tensor?]

    /// Loads `distillation`'s teachers and checks that each scales pixels as the student's `preprocessing` does
    /// (a batch of another size is resampled to a teacher's input) and predicts `classCount` classes. `record` (a
    /// file in the run directory; nil: none) keeps the teachers' checksums: written by the run's first start,
    /// compared by each resume, so a teacher replaced mid-run is an error rather than a silent change of targets.
    /// The teachers run in `precision` (a bfloat16 recipe's teachers answer in bfloat16 too).
    init(_ distillation: Distillation, preprocessing: Preprocessing, classCount: Int, record: String? = nil,
         precision: Precision = .float32) throws {
        guard distillation.testTimeAugmentation == nil else {
            throw TrainingError.invalidDistillation(
                reason: "testTimeAugmentation applies to clean input; with augmented input each teacher sees the student's single view")
        }
        let teachers = try Teacher.loaded(distillation, classCount: classCount, precision: precision)
        for teacher in teachers {
            let found = teacher.card.preprocessing
            guard found.scale == preprocessing.scale, found.offset == preprocessing.offset else {
                throw TrainingError.teacherInputMismatch(path: teacher.path, expected: preprocessing, found: found)
            }
        }
        if let record { try Teacher.check(teachers, against: record, paths: distillation.teachers) }
        models = teachers.map(\.model)
        resampled = Array(repeating: nil, count: teachers.count)
        weight = distillation.weight
        temperature = distillation.temperature
    }

    /// Mixes the teachers' mean class distribution for `input` `[N, S, S, 1]` (preprocessed; resampled to each
    /// teacher's input size as `FaceDataset.resized(to:)` resamples pixels) into `targets` `[N, classes]`: each row
    /// becomes `(1 - weight) * target + weight * p`.
    func mix(into targets: Tensor, for input: Tensor) {
        let count = targets.count
        var mean = [Float](repeating: 0, count: count)
        for (teacher, model) in models.enumerated() {
            let probabilities = model.probabilities(teacherInput(teacher, for: input))
            let classes = targets.shape[1]
            for row in 0..<probabilities.shape[0] {
                Calibration.scale(probabilities.pointer + row * classes, classes: classes, temperature: temperature)
            }
            for index in 0..<count { mean[index] += probabilities[index] / Float(models.count) }
        }
        for index in 0..<count { targets[index] = (1 - weight) * targets[index] + weight * mean[index] }
    }

    /// `input` as teacher `index` reads it: itself at the teacher's size, else resampled into the teacher's buffer.
    private func teacherInput(_ index: Int, for input: Tensor) -> Tensor {
        let (batch, size, teacherSize) = (input.shape[0], input.shape[1], models[index].architecture.inputSize)
        guard teacherSize != size else { return input }
        let shape = [batch, teacherSize, teacherSize, 1]
        let buffer = resampled[index].flatMap { $0.shape == shape ? $0 : nil } ?? Tensor(shape: shape)
        resampled[index] = buffer
        FloatImageResampling.resample(input.pointer, count: batch, size: size, to: teacherSize, into: buffer.pointer)
        return buffer
    }
}
