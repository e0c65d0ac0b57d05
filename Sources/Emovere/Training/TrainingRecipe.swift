import EmovereData
import EmovereNN
import EmovereTensor

/// Everything that determines a training run: with the same recipe, data and seed, Emovere produces
/// the same weights. Stored in checkpoints and model files.
public struct TrainingRecipe: Sendable, Codable, Equatable {
    public var architecture: Architecture
    public var preprocessing: Preprocessing
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerRule
    public var learningRate: Float
    public var weightDecay: Float
    public var schedule: LearningRateSchedule
    public var labelSmoothing: Float
    /// Weight each sample by `total / (classes * classCount)` of its class (balanced weights).
    public var balancesClasses: Bool
    /// Mixup's Beta(alpha, alpha) parameter; 0 disables mixup.
    public var mixupAlpha: Float
    public var augmentation: Augmentation
    /// Stop when validation accuracy has not improved for this many epochs (nil: never).
    public var earlyStoppingPatience: Int?
    /// Where validation comes from: nil uses the PublicTest split, a fraction holds out part of Training.
    public var validationHoldOut: Double?
    public var seed: UInt64
    /// A model file whose weights start the run (fine-tuning; its architecture must be this recipe's), as
    /// given to `emovere train --initial-weights`; nil starts from the seed's random initialisation.
    public var initialWeights: String?
    /// Further model files of the architecture averaged with `initialWeights` into the starting weights (a model soup,
    /// as `emovere average` makes; `--initial-weights` given more than once); nil: `initialWeights` alone.
    public var averagedWeights: [String]?
    /// Whether each validation (and so every saved model) uses batch-norm statistics re-estimated on the clean training
    /// faces (`BatchNormStatistics.recompute`) instead of the running average over the augmented training batches.
    /// nil: not re-estimated.
    public var recomputesBatchNormStatistics: Bool?
    /// Crowd votes mixed into the training targets (nil: the FER2013 labels alone).
    public var softLabels: SoftLabels?
    /// A trained model's predictions mixed into the training targets (nil: no teacher).
    public var distillation: Distillation?
    /// The dense convolutions' arithmetic in training steps (`Conv2d.trainingPrecision`) and in the teachers that
    /// answer each augmented batch (nil: float32). bfloat16 runs where the CPU has AVX512_BF16 (else float32, with a
    /// note); validation and teachers of clean input always run float32.
    public var precision: Precision?
    /// Besides the best epoch's model, the run writes `averaged.safetensors`: the mean of the weights after each of its
    /// last this-many epochs (stochastic weight averaging over the end of the schedule, as `emovere average` makes
    /// from the epochs' checkpoints), batch-norm statistics re-estimated on the clean training faces, then validated
    /// (nil: no average).
    public var averagedFinalEpochs: Int?

    public init(
        architecture: Architecture = Architecture(name: "mini-xception"), preprocessing: Preprocessing? = nil,
        epochs: Int = 100, batchSize: Int = 32, optimizer: OptimizerRule = .adam(), learningRate: Float = 1e-3,
        weightDecay: Float = 0.01, schedule: LearningRateSchedule = .reduceOnPlateau(factor: 0.1, patience: 12, minimum: 1e-5),
        labelSmoothing: Float = 0, balancesClasses: Bool = false, mixupAlpha: Float = 0,
        augmentation: Augmentation = .standard, earlyStoppingPatience: Int? = 50, validationHoldOut: Double? = nil,
        seed: UInt64 = 1, initialWeights: String? = nil, averagedWeights: [String]? = nil,
        recomputesBatchNormStatistics: Bool? = nil, softLabels: SoftLabels? = nil, distillation: Distillation? = nil,
        precision: Precision? = nil, averagedFinalEpochs: Int? = nil
    ) {
        self.architecture = architecture
        self.preprocessing = preprocessing ?? .symmetric(inputSize: architecture.inputSize)
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.schedule = schedule
        self.labelSmoothing = labelSmoothing
        self.balancesClasses = balancesClasses
        self.mixupAlpha = mixupAlpha
        self.augmentation = augmentation
        self.earlyStoppingPatience = earlyStoppingPatience
        self.validationHoldOut = validationHoldOut
        self.seed = seed
        self.initialWeights = initialWeights
        self.averagedWeights = averagedWeights
        self.recomputesBatchNormStatistics = recomputesBatchNormStatistics
        self.softLabels = softLabels
        self.distillation = distillation
        self.precision = precision
        self.averagedFinalEpochs = averagedFinalEpochs
    }
}

/// Knowledge distillation: each training image's target becomes `(1 - weight) * target + weight * p` where `p` is
/// the teachers' class distribution at `temperature` for the same image (`input` says which view of it), averaged
/// over the teachers: one model, or an ensemble whose mean answer is better than any member's. The teachers' labels
/// must be the student's.
public struct Distillation: Sendable, Codable, Equatable {
    /// Which view of a training image the teachers answer for.
    public enum Input: String, Sendable, Codable, CaseIterable {
        /// The clean image (resized to each teacher's input), once before training, averaging
        /// `testTimeAugmentation`'s views; the answers are cached in the run directory.
        case clean
        /// The augmented and corrupted batch exactly as the student sees it, single view, at every step ("consistent"
        /// teaching), resampled to each teacher's input size; the teachers must scale pixels as the student does.
        case augmented
    }

    /// The teachers' model files, as given to `emovere train --teacher` (at least one).
    public var teachers: [String]
    /// The teachers' share of each target, 0...1.
    public var weight: Float
    /// Divides each teacher's logits before its softmax: above 1 flattens its distribution.
    public var temperature: Float
    /// The views each teacher averages with `.clean` input; nil: its card's when the run started (kept with its
    /// answers in the run directory, so a later change to the card does not change a resumed run).
    public var testTimeAugmentation: TestTimeAugmentation?
    /// Which view the teachers answer for (recipes written before the choice: `.clean`).
    public var input: Input

    public init(teachers: [String], weight: Float = 0.5, temperature: Float = 1,
                testTimeAugmentation: TestTimeAugmentation? = nil, input: Input = .clean) {
        precondition(!teachers.isEmpty, "distillation needs at least one teacher")
        self.teachers = teachers
        self.weight = weight
        self.temperature = temperature
        self.testTimeAugmentation = testTimeAugmentation
        self.input = input
    }

    private enum CodingKeys: String, CodingKey {
        case teachers, weight, temperature, testTimeAugmentation, input
        /// The single teacher of recipes written before ensembles.
        case teacher
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let teachers = try container.decodeIfPresent([String].self, forKey: .teachers) {
            guard !teachers.isEmpty else {
                throw DecodingError.dataCorruptedError(forKey: .teachers, in: container,
                                                       debugDescription: "expected at least one teacher, found none")
            }
            self.teachers = teachers
        } else {
            teachers = [try container.decode(String.self, forKey: .teacher)]
        }
        weight = try container.decode(Float.self, forKey: .weight)
        temperature = try container.decode(Float.self, forKey: .temperature)
        testTimeAugmentation = try container.decodeIfPresent(TestTimeAugmentation.self, forKey: .testTimeAugmentation)
        input = try container.decodeIfPresent(Input.self, forKey: .input) ?? .clean
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(teachers, forKey: .teachers)
        try container.encode(weight, forKey: .weight)
        try container.encode(temperature, forKey: .temperature)
        try container.encodeIfPresent(testTimeAugmentation, forKey: .testTimeAugmentation)
        // Written only when it is not the default, so recipes and cards from before the choice read unchanged.
        if input != .clean { try container.encode(input, forKey: .input) }
    }
}

extension TrainingRecipe {
    /// Why the recipe may not train as meant though `validate()` accepts it (a warm-up that covers the whole run
    /// never anneals the rate); nil when nothing stands out.
    public var caveat: String? {
        guard case let .cosine(warmupEpochs, _) = schedule, warmupEpochs >= epochs else { return nil }
        return "the cosine schedule's \(warmupEpochs) warm-up epochs cover the whole \(epochs)-epoch run: the learning rate only rises and is never annealed; give --warmup-epochs below --epochs"
    }

    /// A setting `validate()` checks, named as in the recipe's JSON (`schedule`'s and the nested settings by the
    /// value they hold).
    public enum Setting: String, Sendable, CaseIterable {
        case epochs, batchSize, learningRate, weightDecay, labelSmoothing, mixupAlpha, earlyStoppingPatience
        case validationHoldOut, plateauFactor, plateauPatience, minimumLearningRate, warmupEpochs, warmupFraction
        case softLabelWeight, teacherWeight, teacherTemperature, averagedFinalEpochs
        case horizontalFlipProbability, maximumRotationDegrees, maximumShiftFraction, zoom, cropPadding
        case erasingProbability, erasingArea, erasingValue, border, corruptionProbability, corruptionKinds
        case corruptionSeverity, beta1, beta2, epsilon, momentum, preprocessing
        case architectureName = "architecture.name", classCount = "architecture.classCount"
    }

    /// The most epochs a recipe may ask for (a year of the default model's epochs on two cores).
    public static let maximumEpochs = 100_000

    /// The largest training batch.
    public static let maximumBatchSize = 65_536

    /// The most pixels pad-and-crop may pad each side by.
    public static let maximumCropPadding = 64

    /// Throws `TrainingError.invalidInputSize` unless the architecture and the preprocessing agree on one input size
    /// a model file may declare (`ModelCard.inputSizeProblem`), and `TrainingError.invalidSetting` naming the first
    /// other setting out of its range (augmentation, optimizer and preprocessing included): every number must be
    /// finite and within what training can use. Checked before any data is loaded, for built-in recipes, recipe files
    /// and cards alike.
    public func validate() throws(TrainingError) {
        guard Architecture.knownNames.contains(architecture.name) else {
            throw .invalidSetting(.architectureName, expected: "one of \(Architecture.knownNames.joined(separator: ", "))",
                                  received: "'\(architecture.name)'")
        }
        // Up to the seven emotions (fewer for data of the first few classes alone); the trainer checks the data's labels.
        try Self.check(.classCount, architecture.classCount, within: 2...Emotion.count)
        if let problem = ModelCard.inputSizeProblem(architecture: architecture.inputSize,
                                                    preprocessing: preprocessing.inputSize) {
            throw .invalidInputSize(reason: problem)
        }
        try Self.check(.epochs, epochs, within: 1...Self.maximumEpochs)
        try Self.check(.batchSize, batchSize, within: 2...Self.maximumBatchSize)
        try Self.check(.learningRate, learningRate, expected: "a positive number") { $0 > 0 }
        try Self.check(.weightDecay, weightDecay, expected: "0 or more") { $0 >= 0 }
        try Self.check(.labelSmoothing, labelSmoothing, expected: "0 or more and below 1") { $0 >= 0 && $0 < 1 }
        try Self.check(.mixupAlpha, mixupAlpha, expected: "0 (off) or more") { $0 >= 0 }
        if let earlyStoppingPatience {
            try Self.check(.earlyStoppingPatience, earlyStoppingPatience, within: 1...Self.maximumEpochs)
        }
        if let averagedFinalEpochs {
            try Self.check(.averagedFinalEpochs, averagedFinalEpochs, within: 1...epochs)
        }
        if let validationHoldOut {
            try Self.check(.validationHoldOut, Float(validationHoldOut), expected: "above 0 and below 1") {
                $0 > 0 && $0 < 1
            }
        }
        switch schedule {
        case .constant: break
        case let .reduceOnPlateau(factor, patience, minimum):
            try Self.check(.plateauFactor, factor, expected: "above 0 and below 1") { $0 > 0 && $0 < 1 }
            try Self.check(.plateauPatience, patience, within: 1...Self.maximumEpochs)
            try Self.check(.minimumLearningRate, minimum, expected: "0 or more") { $0 >= 0 }
        case let .cosine(warmupEpochs, minimum):
            try Self.check(.warmupEpochs, warmupEpochs, within: 0...Self.maximumEpochs)
            try Self.check(.minimumLearningRate, minimum, expected: "0 or more") { $0 >= 0 }
        case let .oneCycle(warmupFraction):
            try Self.check(.warmupFraction, warmupFraction, expected: "above 0 and below 1") { $0 > 0 && $0 < 1 }
        }
        try augmentation.validate()
        switch optimizer {
        case let .adam(beta1, beta2, epsilon):
            try Self.check(.beta1, beta1, expected: "0 or more and below 1") { $0 >= 0 && $0 < 1 }
            try Self.check(.beta2, beta2, expected: "0 or more and below 1") { $0 >= 0 && $0 < 1 }
            try Self.check(.epsilon, epsilon, expected: "a positive number") { $0 > 0 }
        case let .sgd(momentum, _):
            try Self.check(.momentum, momentum, expected: "0 or more and below 1") { $0 >= 0 && $0 < 1 }
        }
        guard preprocessing.problem == nil else {
            throw .invalidSetting(.preprocessing, expected: "a non-zero scale of at most 10, an offset of at most 1000 in "
                                      + "magnitude and a faceMargin of 0...1", received: "\(preprocessing)")
        }
        if let softLabels {
            guard architecture.classCount == Emotion.count else {
                throw .invalidSetting(.classCount, expected: "\(Emotion.count) with soft labels (FER+ votes cover the seven emotions)",
                                      received: "\(architecture.classCount)")
            }
            try Self.check(.softLabelWeight, softLabels.weight, expected: "between 0 and 1") { (0...1).contains($0) }
        }
        if let distillation {
            try Self.check(.teacherWeight, distillation.weight, expected: "between 0 and 1") { (0...1).contains($0) }
            try Self.check(.teacherTemperature, distillation.temperature, expected: "a positive number") { $0 > 0 }
        }
    }

    static func check(_ setting: Setting, _ value: Int, within range: ClosedRange<Int>) throws(TrainingError) {
        guard !range.contains(value) else { return }
        throw .invalidSetting(setting, expected: "\(range.lowerBound) to \(range.upperBound)", received: "\(value)")
    }

    /// Throws unless `value` is finite and passes `isValid`.
    static func check(_ setting: Setting, _ value: Float, expected: String,
                              _ isValid: (Float) -> Bool) throws(TrainingError) {
        guard !(value.isFinite && isValid(value)) else { return }
        throw .invalidSetting(setting, expected: expected, received: "\(value)")
    }

    /// The model files whose mean starts the run: `initialWeights` and `averagedWeights` (empty: a random start).
    public var startingWeights: [String] { (initialWeights.map { [$0] } ?? []) + (averagedWeights ?? []) }

    /// `training` split into the images the run trains on and the part it holds out (`validationHoldOut`: validation
    /// during training, the temperature fit afterwards), stratified and seeded by the recipe; nil without a hold-out.
    public func holdingOut(from training: FaceDataset) -> (training: FaceDataset, heldOut: FaceDataset)? {
        guard let fraction = validationHoldOut else { return nil }
        let (kept, heldOut) = training.split(holdOutFraction: fraction, seed: seed)
        return (kept, heldOut)
    }
}

/// FER+ crowd votes (`FERPlusVotes`) as soft training targets: each training image's target becomes
/// `(1 - weight) * label target + weight * vote distribution` where the image has votes for the seven classes.
/// Evaluation stays on the FER2013 labels.
public struct SoftLabels: Sendable, Codable, Equatable {
    /// The votes CSV, as given to `emovere train --soft-labels`.
    public var file: String
    /// The share of the votes in the target, 0...1.
    public var weight: Float
    /// Leave out training images that most annotators called not a face.
    public var dropsNonFaces: Bool

    public init(file: String, weight: Float = 0.5, dropsNonFaces: Bool = true) {
        self.file = file
        self.weight = weight
        self.dropsNonFaces = dropsNonFaces
    }
}

/// How the learning rate changes over a run.
public enum LearningRateSchedule: Sendable, Codable, Equatable {
    /// The base rate throughout.
    case constant
    /// Multiply by `factor` when validation accuracy has not improved for `patience` epochs, down to `minimum`.
    case reduceOnPlateau(factor: Float, patience: Int, minimum: Float)
    /// Linear warm-up for `warmupEpochs`, then cosine decay to `minimum` at the last epoch (per step).
    case cosine(warmupEpochs: Int, minimum: Float)
    /// One-cycle: linear rise from base/25 to the base rate over `warmupFraction` of the steps, then cosine to ~0.
    case oneCycle(warmupFraction: Float)

    /// Whether the rate at an epoch depends on the run's length (cosine, one-cycle): extending a run changes it.
    public var isLaidOutOverEpochs: Bool {
        switch self {
        case .cosine, .oneCycle: true
        case .constant, .reduceOnPlateau: false
        }
    }
}

extension Augmentation {
    /// Throws `TrainingError.invalidSetting` naming the first setting out of its range (a shift of 1e38 pixels
    /// would trap in the warp).
    func validate() throws(TrainingError) {
        typealias Recipe = TrainingRecipe
        try Recipe.check(.horizontalFlipProbability, horizontalFlipProbability, expected: "a probability, 0...1") {
            (0...1).contains($0)
        }
        try Recipe.check(.maximumRotationDegrees, maximumRotationDegrees, expected: "0...180 degrees") { (0...180).contains($0) }
        try Recipe.check(.maximumShiftFraction, maximumShiftFraction, expected: "a fraction of the size, 0...1") {
            (0...1).contains($0)
        }
        guard minimumZoom.isFinite, maximumZoom.isFinite, minimumZoom > 0, minimumZoom <= maximumZoom, maximumZoom <= 10 else {
            throw .invalidSetting(.zoom, expected: "0 < minimumZoom <= maximumZoom <= 10",
                                  received: "minimumZoom \(minimumZoom), maximumZoom \(maximumZoom)")
        }
        try Recipe.check(.cropPadding, cropPadding, within: 0...Recipe.maximumCropPadding)
        try Recipe.check(.erasingProbability, erasingProbability, expected: "a probability, 0...1") { (0...1).contains($0) }
        guard minimumErasingArea.isFinite, maximumErasingArea.isFinite, minimumErasingArea >= 0,
              minimumErasingArea <= maximumErasingArea, maximumErasingArea <= 1 else {
            throw .invalidSetting(.erasingArea, expected: "0 <= minimumErasingArea <= maximumErasingArea <= 1",
                                  received: "minimumErasingArea \(minimumErasingArea), maximumErasingArea \(maximumErasingArea)")
        }
        try Recipe.check(.erasingValue, erasingValue, expected: "a pixel value, 0...255") { (0...255).contains($0) }
        if case let .constant(value) = border {
            try Recipe.check(.border, value, expected: "a pixel value, 0...255") { (0...255).contains($0) }
        }
        if let corruptions {
            try Recipe.check(.corruptionProbability, corruptions.probability, expected: "a probability, 0...1") {
                (0...1).contains($0)
            }
            try Recipe.check(.corruptionSeverity, corruptions.maximumSeverity, expected: "0...5, the benchmark's scale") {
                (0...5).contains($0)
            }
            if corruptions.kinds.isEmpty {
                throw .invalidSetting(.corruptionKinds, expected: "at least one corruption", received: "none")
            }
        }
    }
}
