import EmovereData
import EmovereNN

/// What a model file says about its model: enough to rebuild, feed and judge it.
public struct ModelCard: Sendable, Codable, Equatable {
    /// The file-format version this build reads and writes.
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    public var architecture: Architecture
    public var preprocessing: Preprocessing
    /// The test-time augmentation the model is used with: `EmotionRecognizer` (so `analyze`, `explain`, `video`,
    /// `live`, `serve`) and `emovere evaluate` apply it unless `--tta` says otherwise. Nil: none.
    public var testTimeAugmentation: TestTimeAugmentation?
    /// Temperatures that calibrate the probabilities (`Calibration`), each fitted for the test-time augmentation it is
    /// filed under (`emovere evaluate --fit-temperature --record`, on Training images the recipe held out) and applied
    /// wherever probabilities averaged over those views are shown; views without one keep temperature 1 (a
    /// temperature fitted for one view count misleads another: averaging ten views flattens the probabilities).
    public var temperatures: [TestTimeAugmentation: Float]?
    /// Class names in output order; must equal `Emotion.allCases.map(\.name)`.
    public var labels: [String]
    public var parameterCount: Int
    /// Multiply-adds for one face (forward pass), when measured.
    public var multiplyAddsPerFace: Int?
    /// How Emovere trained the model; nil for a model that was imported (see `origin`).
    public var recipe: TrainingRecipe?
    /// Where a model that Emovere did not train came from; nil for a model Emovere trained.
    public var origin: ModelOrigin?
    /// `FaceDataset.contentDigest` of the Training images the run held out (`TrainingRecipe.validationHoldOut`), which
    /// `emovere evaluate --fit-temperature` compares with the held-out part of the data it is given; nil without a
    /// hold-out (or for a card written before it was kept).
    public var heldOutDigest: String?
    /// The exact command that trained the model.
    public var trainingCommand: String?
    public var trainingSeconds: Double?
    /// Measured validation figures, e.g. `{"publicTestAccuracy": 0.65, "epoch": 87}`.
    public var metrics: [String: Double]
    /// The full evaluation report (per-class metrics, confusion matrix, calibration error) with the card's own
    /// test-time augmentation, when one was made.
    public var evaluation: ClassificationReport?
    /// Accuracy under the corruption benchmark, single view (`emovere evaluate --corruptions --tta none --record`),
    /// when measured.
    public var robustness: CorruptionReport?
    public var notes: [String]

    public init(
        architecture: Architecture, preprocessing: Preprocessing, parameterCount: Int,
        recipe: TrainingRecipe? = nil, trainingCommand: String? = nil, metrics: [String: Double] = [:]
    ) {
        formatVersion = Self.currentFormatVersion
        self.architecture = architecture
        self.preprocessing = preprocessing
        labels = Emotion.allCases.map(\.name)
        self.parameterCount = parameterCount
        self.recipe = recipe
        self.trainingCommand = trainingCommand
        self.metrics = metrics
        notes = []
    }
}

extension ModelCard {
    /// The temperature for probabilities averaged over `views`: the one fitted for them, else 1.
    public func temperature(for views: TestTimeAugmentation) -> Float { temperatures?[views] ?? 1 }

    /// Input sizes a model file may declare, in pixels.
    public static let inputSizes = 8...512

    /// `inputSizes` as messages write it.
    public static var inputSizeRange: String { "\(inputSizes.lowerBound)-\(inputSizes.upperBound) pixels" }

    /// What is wrong with an architecture taking `architecture` x `architecture` faces fed by a preprocessing that
    /// makes `preprocessing` x `preprocessing` ones (a size out of `inputSizes`, or the two disagreeing), or nil.
    public static func inputSizeProblem(architecture size: Int, preprocessing: Int) -> String? {
        if !inputSizes.contains(size) { return "architecture.inputSize is \(size); expected \(inputSizeRange)" }
        if preprocessing != size {
            return "preprocessing.inputSize is \(preprocessing) but the architecture takes \(size)x\(size) faces"
        }
        return nil
    }

    /// What makes the card unusable (a value out of range, or card and architecture disagreeing), or nil.
    public var problem: String? {
        if let problem = Self.inputSizeProblem(architecture: architecture.inputSize,
                                               preprocessing: preprocessing.inputSize) {
            return problem
        }
        if architecture.classCount != labels.count {
            return "architecture.classCount is \(architecture.classCount); expected \(labels.count), one per label"
        }
        if let problem = preprocessing.problem { return problem }
        for (views, temperature) in temperatures ?? [:] where !(0.01...100).contains(temperature) {
            return "temperatures[\(views.rawValue)] is \(temperature); expected 0.01...100"
        }
        if parameterCount < 0 { return "parameterCount is \(parameterCount); expected a count" }
        return nil
    }
}
