import EmovereData
import EmovereNN
import EmovereTensor

/// Single settings that replace a base recipe's (`emovere train`'s options over its `--recipe`); nil keeps the base's.
///
/// Precedence: every given setting wins over the base recipe. `initialWeights` replace the base's starting weights
/// (averaged ones included) and also take the architecture and preprocessing of the first file unless `family` or
/// `inputSize` is given. A `schedule` kind builds that schedule
/// with `plateauPatience` (default 8) or `warmupEpochs` (default 3); without a kind, `plateauPatience` changes a
/// plateau base schedule and `warmupEpochs` a cosine one, and either given for a schedule that does not use it is an
/// error.
public struct RecipeOverrides: Sendable {
    /// The closed set of learning-rate schedules the overrides can pick.
    public enum Schedule: String, Sendable, CaseIterable {
        case plateau, cosine, oneCycle = "one-cycle", constant
    }

    /// The closed set of optimizers the overrides can pick.
    public enum Optimizer: String, Sendable, CaseIterable {
        /// Adam with its default moments.
        case adam
        /// SGD with Nesterov momentum 0.9.
        case sgd
    }

    public var family: Architecture.Family?
    public var inputSize: Int?
    public var epochs: Int?
    public var batchSize: Int?
    public var seed: UInt64?
    public var optimizer: Optimizer?
    public var learningRate: Float?
    public var weightDecay: Float?
    public var schedule: Schedule?
    public var plateauPatience: Int?
    public var warmupEpochs: Int?
    public var labelSmoothing: Float?
    public var balancesClasses: Bool?
    public var mixupAlpha: Float?
    public var augmentation: Augmentation.Preset?
    /// Epochs without improvement before stopping; 0 never stops early.
    public var earlyStoppingPatience: Int?
    public var validationHoldOut: Double?
    public var softLabels: SoftLabels?
    public var distillation: Distillation?
    /// Model files whose weights start the run, averaged when more than one (`TrainingRecipe.averagedWeights`).
    public var initialWeights: [String]?
    public var recomputesBatchNormStatistics: Bool?
    public var precision: Precision?
    /// The last epochs whose mean `averaged.safetensors` is; 0 writes no average.
    public var averagedFinalEpochs: Int?
    /// The architecture and preprocessing of `initialWeights` when already known (a resumed run's checkpoint records
    /// them): the files, which may be gone, are then not read.
    public var startingModel: (architecture: Architecture, preprocessing: Preprocessing)?

    public init() {}
}

extension TrainingRecipe {
    /// This recipe with every setting `overrides` gives replaced (see `RecipeOverrides` for the precedence).
    /// Reads the card of `overrides.initialWeights` when given, unless `overrides.startingModel` says what it holds.
    public func applying(_ overrides: RecipeOverrides) throws -> TrainingRecipe {
        var result = self
        if overrides.family != nil || overrides.inputSize != nil {
            result.architecture = Architecture(name: overrides.family?.rawValue ?? architecture.name,
                                               inputSize: overrides.inputSize ?? architecture.inputSize)
            result.preprocessing = .symmetric(inputSize: result.architecture.inputSize)
        }
        if let epochs = overrides.epochs { result.epochs = epochs }
        if let batchSize = overrides.batchSize { result.batchSize = batchSize }
        if let seed = overrides.seed { result.seed = seed }
        switch overrides.optimizer {
        case .adam?: result.optimizer = .adam()
        case .sgd?: result.optimizer = .sgd(momentum: 0.9, nesterov: true)
        case nil: break
        }
        if let learningRate = overrides.learningRate { result.learningRate = learningRate }
        if let weightDecay = overrides.weightDecay { result.weightDecay = weightDecay }
        switch (overrides.schedule, schedule) {
        case (.plateau?, _),
             (nil, .reduceOnPlateau) where overrides.plateauPatience != nil:
            result.schedule = .reduceOnPlateau(factor: 0.1, patience: overrides.plateauPatience ?? 8, minimum: 1e-6)
        case (.cosine?, _),
             (nil, .cosine) where overrides.warmupEpochs != nil:
            result.schedule = .cosine(warmupEpochs: overrides.warmupEpochs ?? 3, minimum: 0)
        case (.oneCycle?, _):
            result.schedule = .oneCycle(warmupFraction: 0.3)
        case (.constant?, _):
            result.schedule = .constant
        default:
            break
        }
        let kind: RecipeOverrides.Schedule = switch result.schedule {
        case .reduceOnPlateau: .plateau
        case .cosine: .cosine
        case .oneCycle: .oneCycle
        case .constant: .constant
        }
        if overrides.plateauPatience != nil && kind != .plateau {
            throw TrainingError.settingUnused(.plateauPatience, schedule: kind.rawValue, needs: RecipeOverrides.Schedule.plateau.rawValue)
        }
        if overrides.warmupEpochs != nil && kind != .cosine {
            throw TrainingError.settingUnused(.warmupEpochs, schedule: kind.rawValue, needs: RecipeOverrides.Schedule.cosine.rawValue)
        }
        if let labelSmoothing = overrides.labelSmoothing { result.labelSmoothing = labelSmoothing }
        if let balancesClasses = overrides.balancesClasses { result.balancesClasses = balancesClasses }
        if let mixupAlpha = overrides.mixupAlpha { result.mixupAlpha = mixupAlpha }
        if let augmentation = overrides.augmentation { result.augmentation = augmentation.augmentation }
        if let patience = overrides.earlyStoppingPatience { result.earlyStoppingPatience = patience == 0 ? nil : patience }
        if let holdOut = overrides.validationHoldOut { result.validationHoldOut = holdOut }
        if let softLabels = overrides.softLabels { result.softLabels = softLabels }
        if let distillation = overrides.distillation { result.distillation = distillation }
        if let recomputes = overrides.recomputesBatchNormStatistics { result.recomputesBatchNormStatistics = recomputes }
        if let precision = overrides.precision { result.precision = precision == .float32 ? nil : precision }
        if let averaged = overrides.averagedFinalEpochs { result.averagedFinalEpochs = averaged == 0 ? nil : averaged }
        if let initialWeights = overrides.initialWeights, let first = initialWeights.first {
            result.initialWeights = first
            result.averagedWeights = initialWeights.count > 1 ? Array(initialWeights.dropFirst()) : nil
            if overrides.family == nil && overrides.inputSize == nil {
                (result.architecture, result.preprocessing) = try overrides.startingModel ?? {
                    let card = try ModelFile.load(first).card
                    return (card.architecture, card.preprocessing)
                }()
            }
        }
        return result
    }
}
