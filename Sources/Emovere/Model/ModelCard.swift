import EmovereData
import EmovereNN

/// What a model file says about its model: enough to rebuild, feed and judge it.
public struct ModelCard: Sendable, Codable, Equatable {
    /// The file-format version this build reads and writes.
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    public var architecture: Architecture
    public var preprocessing: Preprocessing
    /// The test-time augmentation the model is used with (`EmotionRecognizer` applies `flip`;
    /// `emovere evaluate` uses it unless `--tta` says otherwise). Nil: none.
    public var testTimeAugmentation: TestTimeAugmentation?
    /// Class names in output order; must equal `Emotion.allCases.map(\.name)`.
    public var labels: [String]
    public var parameterCount: Int
    /// Multiply-adds for one face (forward pass), when measured.
    public var multiplyAddsPerFace: Int?
    /// How Emovere trained the model; nil for a model that was imported (see `origin`).
    public var recipe: TrainingRecipe?
    /// Where a model that Emovere did not train came from; nil for a model Emovere trained.
    public var origin: ModelOrigin?
    /// The exact command that trained the model.
    public var trainingCommand: String?
    public var trainingSeconds: Double?
    /// Measured validation figures, e.g. `{"publicTestAccuracy": 0.65, "epoch": 87}`.
    public var metrics: [String: Double]
    /// A full evaluation report (per-class metrics, confusion matrix), when one was made.
    public var evaluation: ClassificationReport?
    /// Accuracy under the corruption benchmark (`emovere evaluate --corruptions --record`), when measured.
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
