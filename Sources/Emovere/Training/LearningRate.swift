import Foundation

/// The learning rate of each step under a recipe's schedule.
enum LearningRate {
    static func value(recipe: TrainingRecipe, state: TrainingState, epoch: Int, step: Int, stepsPerEpoch: Int) -> Float {
        let base = recipe.learningRate
        let totalSteps = Float(max(recipe.epochs * stepsPerEpoch, 1))
        let current = Float((epoch - 1) * stepsPerEpoch + step)
        switch recipe.schedule {
        case .constant:
            return base
        case .reduceOnPlateau:
            return state.learningRate
        case let .cosine(warmupEpochs, minimum):
            let warmup = Float(warmupEpochs * stepsPerEpoch)
            if current < warmup { return base * (current + 1) / warmup }
            let progress = (current - warmup) / max(totalSteps - warmup, 1)
            return minimum + (base - minimum) * 0.5 * (1 + cos(Float.pi * min(progress, 1)))
        case let .oneCycle(warmupFraction):
            let warmup = max(totalSteps * warmupFraction, 1)
            let start = base / 25
            if current < warmup { return start + (base - start) * current / warmup }
            let progress = (current - warmup) / max(totalSteps - warmup, 1)
            return base * 0.5 * (1 + cos(Float.pi * min(progress, 1))) + 1e-7
        }
    }
}
