import EmovereCore
import EmovereData
import EmovereFiles
import EmovereNN
import EmovereTensor
import Foundation

extension TrainingRecipe {
    /// The built-in recipes, each the recipe of a bundled model (a test checks it): the one list of recipe names.
    ///
    /// - `standard`: `models/standard.safetensors`, wide-xception 48x48 (733,671 parameters), 100 epochs,
    ///   seed 4, the standard augmentation (with random erasing) and label smoothing 0.1.
    /// - `robust`: `models/robust.safetensors`, `standard`'s model fine-tuned for 12 epochs at Adam 3e-4 (1-epoch
    ///   warm-up, cosine decay) with the robust augmentation (wider framing, camera corruptions).
    /// - `robust-heavy`: `models/robust-heavy.safetensors`, `robust`'s model fine-tuned for 8 epochs at Adam 2e-4 (1-epoch
    ///   warm-up, cosine decay), seed 6, with the heavier corruption mix (`Augmentation.robustHeavy`).
    /// - `soup`: `models/soup.safetensors` (the default until 2026-12-05), the mean of the three wide-xceptions above fine-tuned for 8 epochs at
    ///   Adam 1e-4 (1-epoch warm-up, cosine decay), seed 10, with `robust-heavy`'s corruptions, distilled from the three
    ///   (half of each target is their mean prediction), batch-norm statistics re-estimated on clean faces.
    /// - `distilled`: `models/distilled.safetensors`, `standard`'s network and schedule from scratch, seed 20, the robust
    ///   augmentation throughout and the four bundled wide-xceptions as teachers (half of each target is their mean
    ///   flip-crop prediction): `soup`, `robust-heavy`, `robust` and `standard`.
    /// - `consistent`: `models/consistent.safetensors`, `standard`'s network from scratch for 80 epochs, seed 33, the
    ///   robust augmentation throughout, with `soup` and `distilled` answering each augmented batch as the student
    ///   sees it (half of each target is their mean single-view prediction for the corrupted face).
    /// - `consistent-long`: `models/consistent-long.safetensors` (the default during 2026-12-05), `consistent`'s
    ///   recipe for 100 epochs, seed 35.
    /// - `consistent-patient`: `models/default.safetensors`, `consistent`'s recipe for 300 epochs ("patient" teaching),
    ///   seed 43, in bfloat16 (`Precision.bfloat16`; float32 where the CPU lacks AVX512_BF16).
    /// - `tiny`: `models/tiny.safetensors`, mini-Xception 64x64 (58,423 parameters), 120 epochs, seed 3.
    /// - `tiny-robust`: `models/tiny-robust.safetensors`, `tiny`'s model fine-tuned for 16 epochs at Adam 3e-4 (1-epoch
    ///   warm-up, cosine decay), seed 8, with `robust-heavy`'s corruptions and the three bundled wide-xceptions as
    ///   teachers (half of each target is their mean prediction): `robust-heavy`, `robust` and `standard`.
    /// - `tiny-distilled`: `models/tiny-distilled.safetensors`, mini-Xception 64x64 from scratch, 100 epochs, seed 22,
    ///   the robust augmentation throughout and `distilled`'s teachers.
    /// - `tiny-consistent`: `models/tiny-consistent.safetensors`, mini-Xception 64x64 from scratch, 100 epochs, seed 37,
    ///   the robust augmentation throughout, with `consistent-long` (the default when it was trained) and `soup`
    ///   answering each augmented batch as the student sees it.
    /// - `mini-xception`: `models/mini-xception-48.safetensors`, mini-Xception 48x48, 80 epochs, seed 2.
    ///
    /// All but the fine-tunes: Adam 1e-3 with a 2-epoch warm-up and cosine decay, batch 32, L2 1e-4; the mini-Xceptions
    /// train without label smoothing and, unless named above, with the classic augmentation (flip, rotation, shift,
    /// zoom).
    public enum BuiltIn: String, Sendable, CaseIterable {
        case standard
        case robust
        case robustHeavy = "robust-heavy"
        case soup
        case distilled
        case consistent
        case consistentLong = "consistent-long"
        case consistentPatient = "consistent-patient"
        case tiny
        case tinyRobust = "tiny-robust"
        case tinyDistilled = "tiny-distilled"
        case tinyConsistent = "tiny-consistent"
        case miniXception = "mini-xception"

        /// The recipe `emovere train` starts from when none is given: the one that trains the default
        /// architecture from scratch (`robust`, `robust-heavy` and `soup` make the bundled default from its model).
        public static let `default` = BuiltIn.standard

        /// The bundled wide-xceptions before `soup`: its starting mean and teachers, and `tiny-robust`'s teachers.
        static let wideXceptions = ["models/robust-heavy.safetensors", "models/robust.safetensors",
                                    "models/standard.safetensors"]

        /// The files of `consistent-long` (the default during 2026-12-05) and `soup`, which recipes name as teachers.
        static let consistentLongFile = "models/consistent-long.safetensors"
        static let soupFile = "models/soup.safetensors"

        /// `consistent`'s teachers: `soup` and `distilled`, each answering for the augmented batch.
        static let batchTeachers = Distillation(
            teachers: [soupFile, "models/distilled.safetensors"], input: .augmented)

        /// `tiny-consistent`'s teachers: `consistent-long` and `soup`, each answering for the augmented batch.
        static let consistentLongBatchTeachers = Distillation(
            teachers: [consistentLongFile, soupFile], input: .augmented)

        /// `distilled`'s and `tiny-distilled`'s teachers: the four bundled wide-xceptions, each averaging flip-crop.
        static let flipCropTeachers = Distillation(teachers: [soupFile] + wideXceptions,
                                                   testTimeAugmentation: .flipCrop)

        public var recipe: TrainingRecipe {
            switch self {
            case .tiny:
                TrainingRecipe.miniXception(inputSize: 64, epochs: 120, seed: 3)
            case .tinyRobust:
                TrainingRecipe(
                    architecture: Architecture(.miniXception, inputSize: 64), epochs: 16, batchSize: 32,
                    optimizer: .adam(), learningRate: 3e-4, weightDecay: 1e-4,
                    schedule: .cosine(warmupEpochs: 1, minimum: 0), labelSmoothing: 0, augmentation: .robustHeavy,
                    earlyStoppingPatience: nil, seed: 8, initialWeights: "models/tiny.safetensors",
                    distillation: Distillation(teachers: Self.wideXceptions))
            case .tinyDistilled:
                TrainingRecipe.miniXception(
                    inputSize: 64, epochs: 100, seed: 22, augmentation: .robust, distillation: Self.flipCropTeachers)
            case .tinyConsistent:
                TrainingRecipe.miniXception(
                    inputSize: 64, epochs: 100, seed: 37, augmentation: .robust,
                    distillation: Self.consistentLongBatchTeachers)
            case .miniXception:
                TrainingRecipe.miniXception(inputSize: 48, epochs: 80, seed: 2)
            case .standard:
                TrainingRecipe.wideXception(augmentation: .standard, seed: 4)
            case .distilled:
                TrainingRecipe.wideXception(augmentation: .robust, seed: 20, distillation: Self.flipCropTeachers)
            case .consistent:
                TrainingRecipe.wideXception(augmentation: .robust, seed: 33, epochs: 80, distillation: Self.batchTeachers)
            case .consistentLong:
                TrainingRecipe.wideXception(augmentation: .robust, seed: 35, epochs: 100, distillation: Self.batchTeachers)
            case .consistentPatient:
                TrainingRecipe.wideXception(augmentation: .robust, seed: 43, epochs: 300, distillation: Self.batchTeachers,
                                            precision: .bfloat16)
            case .robust:
                TrainingRecipe.wideXceptionFineTune(epochs: 12, learningRate: 3e-4, augmentation: .robust, seed: 4,
                                     from: "models/standard.safetensors")
            case .robustHeavy:
                TrainingRecipe.wideXceptionFineTune(epochs: 8, learningRate: 2e-4, augmentation: .robustHeavy, seed: 6,
                                     from: "models/robust.safetensors")
            case .soup:
                TrainingRecipe.wideXceptionFineTune(epochs: 8, learningRate: 1e-4, augmentation: .robustHeavy, seed: 10,
                                     from: Self.wideXceptions[0], averagedWith: Array(Self.wideXceptions.dropFirst()),
                                     recomputesStatistics: true, distillation: Distillation(teachers: Self.wideXceptions))
            }
        }
    }

    /// The name of the recipe `emovere train` starts from when none is given.
    public static var defaultName: String { BuiltIn.default.rawValue }

    /// Names of the built-in recipes.
    public static var builtInNames: [String] { BuiltIn.allCases.map(\.rawValue) }

    /// The built-in recipe `name`, or nil.
    public static func builtIn(_ name: String) -> TrainingRecipe? {
        BuiltIn(rawValue: name)?.recipe
    }

    /// A fine-tune of the bundled wide-xception in `from` (averaged with the files `averagedWith`): Adam with a 1-epoch
    /// warm-up and cosine decay, batch 32, L2 1e-4, label smoothing 0.1.
    private static func wideXceptionFineTune(
        epochs: Int, learningRate: Float, augmentation: Augmentation, seed: UInt64, from initialWeights: String,
        averagedWith averagedWeights: [String]? = nil, recomputesStatistics: Bool? = nil,
        distillation: Distillation? = nil
    ) -> TrainingRecipe {
        TrainingRecipe(
            architecture: Architecture(.wideXception, inputSize: 48), epochs: epochs, batchSize: 32,
            optimizer: .adam(), learningRate: learningRate, weightDecay: 1e-4,
            schedule: .cosine(warmupEpochs: 1, minimum: 0), labelSmoothing: 0.1, augmentation: augmentation,
            earlyStoppingPatience: nil, seed: seed, initialWeights: initialWeights, averagedWeights: averagedWeights,
            recomputesBatchNormStatistics: recomputesStatistics, distillation: distillation)
    }

    /// Wide-xception 48x48 from scratch: 100 epochs unless given, Adam 1e-3 with a 2-epoch warm-up and cosine decay,
    /// batch 32, L2 1e-4, label smoothing 0.1, float32 unless `precision` is given.
    private static func wideXception(augmentation: Augmentation, seed: UInt64, epochs: Int = 100,
                                     distillation: Distillation? = nil, precision: Precision? = nil) -> TrainingRecipe {
        TrainingRecipe(
            architecture: Architecture(.wideXception, inputSize: 48), epochs: epochs, batchSize: 32,
            optimizer: .adam(), learningRate: 1e-3, weightDecay: 1e-4,
            schedule: .cosine(warmupEpochs: 2, minimum: 0), labelSmoothing: 0.1, augmentation: augmentation,
            earlyStoppingPatience: nil, seed: seed, distillation: distillation, precision: precision)
    }

    private static func miniXception(inputSize: Int, epochs: Int, seed: UInt64, augmentation: Augmentation = .classic,
                                     distillation: Distillation? = nil) -> TrainingRecipe {
        TrainingRecipe(
            architecture: Architecture(.miniXception, inputSize: inputSize), epochs: epochs, batchSize: 32,
            optimizer: .adam(), learningRate: 1e-3, weightDecay: 1e-4,
            schedule: .cosine(warmupEpochs: 2, minimum: 0), labelSmoothing: 0, augmentation: augmentation,
            earlyStoppingPatience: nil, seed: seed, distillation: distillation)
    }

    /// A built-in recipe by name, the recipe in a model file's card (`.safetensors`), or a recipe JSON file; a recipe
    /// from a file must pass `validate()`.
    public static func load(_ nameOrPath: String) throws -> TrainingRecipe {
        if let recipe = builtIn(nameOrPath) { return recipe }
        guard FileManager.default.fileExists(atPath: nameOrPath) else {
            throw TrainingError.unknownRecipe(name: nameOrPath, builtIn: builtInNames)
        }
        let recipe = try nameOrPath.hasSuffix(".safetensors") ? recipe(inCardOf: nameOrPath) : recipe(inJSON: nameOrPath)
        do {
            try recipe.validate()
        } catch {
            throw ModelError.invalidModelFile(path: nameOrPath, reason: error.description)
        }
        return recipe
    }

    private static func recipe(inCardOf path: String) throws -> TrainingRecipe {
        let file = try SafeTensorsFile(contentsOf: path)
        try ModelFile.verifyChecksum(file, path: path)
        guard let recipe = try ModelFile.readCard(file, path: path).recipe else {
            throw ModelError.invalidModelFile(path: path, reason: "the model card records no training recipe")
        }
        return recipe
    }

    private static func recipe(inJSON path: String) throws -> TrainingRecipe {
        let data: Data
        do {
            data = Data(try FileContents.bytes(atPath: path, maximumBytes: FileContents.largestDocumentBytes))
        } catch {
            throw ModelError.invalidModelFile(path: path, reason: error.reason)
        }
        do {
            return try JSONDecoder().decode(TrainingRecipe.self, from: data)
        } catch {
            let problem = DecodingProblem.describe(error, unfitValue: "a value that does not fit it (e.g. an unknown name)",
                                                   text: data)
            throw ModelError.invalidModelFile(path: path, reason: "expected a training recipe in JSON, found \(problem)")
        }
    }
}
