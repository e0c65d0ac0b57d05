import EmovereNN
import EmovereTensor
import Foundation

/// Knowledge distillation's targets with `.augmented` input (`Distillation.Input`): the teachers answer each training
/// batch exactly as the student sees it, shifted, blurred, compressed or covered, single view ("consistent" teaching,
/// Beyer et al. 2022), so the student learns what can still be read from a degraded face rather than the answer
/// for the clean one. Costs one inference pass per teacher and step.
final class BatchTeachers {
    private let models: [InferenceModel]
    private let weight: Float
    private let temperature: Float

    /// Loads `distillation`'s teachers and checks that each reads the student's input: `preprocessing`'s size and
    /// pixel scaling, and `classCount` classes.
    init(_ distillation: Distillation, preprocessing: Preprocessing, classCount: Int) throws {
        let teachers = try Teacher.loaded(distillation, classCount: classCount)
        for teacher in teachers {
            let found = teacher.card.preprocessing
            guard found.inputSize == preprocessing.inputSize, found.scale == preprocessing.scale,
                  found.offset == preprocessing.offset
            else {
                throw TrainingError.teacherInputMismatch(path: teacher.path, expected: preprocessing, found: found)
            }
        }
        models = teachers.map(\.model)
        weight = distillation.weight
        temperature = distillation.temperature
    }

    /// Mixes the teachers' mean class distribution for `input` `[N, S, S, 1]` (preprocessed) into `targets`
    /// `[N, classes]`: each row becomes `(1 - weight) * target + weight * p`.
    func mix(into targets: Tensor, for input: Tensor) {
        let count = targets.count
        var mean = [Float](repeating: 0, count: count)
        for model in models {
            let probabilities = model.probabilities(input)
            if temperature != 1 { Self.flatten(probabilities, classes: targets.shape[1], temperature: temperature) }
            for index in 0..<count { mean[index] += probabilities[index] / Float(models.count) }
        }
        for index in 0..<count { targets[index] = (1 - weight) * targets[index] + weight * mean[index] }
    }

    /// Each row of `probabilities` `[N, classes]` at `temperature`: `softmax(z / T)` equals `p^(1/T)` renormalised.
    static func flatten(_ probabilities: Tensor, classes: Int, temperature: Float) {
        for row in 0..<probabilities.count / classes {
            var sum: Float = 0
            for k in 0..<classes {
                let value = powf(probabilities[row * classes + k], 1 / temperature)
                probabilities[row * classes + k] = value
                sum += value
            }
            for k in 0..<classes { probabilities[row * classes + k] /= sum }
        }
    }
}
