import Emovere
import EmovereData
import EmovereNN
import EmovereTensor
import Foundation
import Testing

/// Recipes as data: the built-in recipe reproduces the bundled model's training.
struct TrainingRecipeTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: [("standard", "models/standard.safetensors"), ("robust", "models/robust.safetensors"),
                      ("robust-heavy", "models/robust-heavy.safetensors"), ("soup", "models/soup.safetensors"),
                      ("tiny", "models/tiny.safetensors"), ("tiny-robust", "models/tiny-robust.safetensors"),
                      ("tiny-distilled", "models/tiny-distilled.safetensors"),
                      ("tiny-consistent", "models/tiny-consistent.safetensors"),
                      ("distilled", "models/distilled.safetensors"), ("consistent", "models/consistent.safetensors"),
                      ("consistent-long", "models/consistent-long.safetensors"),
                      ("consistent-patient", "models/default.safetensors"),
                      ("mini-xception", "models/mini-xception-48.safetensors")])
    func builtInRecipeIsTheBundledModelsRecipe(name: String, file: String) throws {
        let fromCard = try TrainingRecipe.load(Self.packageRoot.appendingPathComponent(file).path)
        #expect(fromCard == TrainingRecipe.builtIn(name))
        #expect(TrainingRecipe.builtInNames.contains(name))
    }

    @Test func recipeJSONRoundTrips() throws {
        let recipe = try #require(TrainingRecipe.builtIn(TrainingRecipe.defaultName))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try JSONEncoder().encode(recipe).write(to: URL(fileURLWithPath: path))
        #expect(try TrainingRecipe.load(path) == recipe)
        // The training precision is written only when set, so recipes from before it read unchanged.
        #expect(!String(decoding: try JSONEncoder().encode(recipe), as: UTF8.self).contains("precision"))
        #expect(!String(decoding: try JSONEncoder().encode(recipe), as: UTF8.self).contains("averagedFinalEpochs"))
        var halves = recipe
        halves.precision = .bfloat16
        try JSONEncoder().encode(halves).write(to: URL(fileURLWithPath: path))
        #expect(try TrainingRecipe.load(path) == halves)
    }

    @Test func unknownRecipeNamesTheChoices() {
        #expect {
            try TrainingRecipe.load("no-such-recipe")
        } throws: { error in
            "\(error)".contains("no-such-recipe") && "\(error)".contains(TrainingRecipe.defaultName)
        }
    }

    /// `train`'s options over `--recipe`: each given setting wins, the rest stay the base's.
    @Test func overridesReplaceOnlyTheSettingsGiven() throws {
        let base = try #require(TrainingRecipe.builtIn("tiny"))
        #expect(try base.applying(RecipeOverrides()) == base)

        var overrides = RecipeOverrides()
        overrides.epochs = 3
        overrides.seed = 11
        overrides.optimizer = .sgd
        overrides.augmentation = .robustHeavy
        overrides.earlyStoppingPatience = 0
        overrides.validationHoldOut = 0.1
        overrides.distillation = Distillation(teachers: ["teacher.safetensors"], weight: 0.3)
        var expected = base
        expected.epochs = 3
        expected.seed = 11
        expected.optimizer = .sgd(momentum: 0.9, nesterov: true)
        expected.augmentation = .robustHeavy
        expected.earlyStoppingPatience = nil
        expected.validationHoldOut = 0.1
        expected.distillation = Distillation(teachers: ["teacher.safetensors"], weight: 0.3)
        #expect(try base.applying(overrides) == expected)

        // bfloat16 training is recorded in the recipe; float32, the default, leaves it out.
        var halves = RecipeOverrides()
        halves.precision = .bfloat16
        #expect(try base.applying(halves).precision == .bfloat16)
        halves.precision = .float32
        #expect(try base.applying(halves).precision == nil)

        // The option's 0 writes no average.
        var averaged = RecipeOverrides()
        averaged.averagedFinalEpochs = 10
        #expect(try base.applying(averaged).averagedFinalEpochs == 10)
        averaged.averagedFinalEpochs = 0
        var withAverage = base
        withAverage.averagedFinalEpochs = 5
        #expect(try withAverage.applying(averaged).averagedFinalEpochs == nil)

        // A new input size rebuilds the architecture and its preprocessing.
        var size = RecipeOverrides()
        size.inputSize = 48
        let resized = try base.applying(size)
        #expect(resized.architecture == Architecture(.miniXception, inputSize: 48))
        #expect(resized.preprocessing == .symmetric(inputSize: 48))
    }

    /// A recipe written before ensembles names one `teacher`; it reads as a one-teacher list and is written back as
    /// `teachers`. An empty list is an error naming the key.
    @Test func distillationReadsTheSingleTeacherOfOlderRecipes() throws {
        let older = #"{"teacher": "models/default.safetensors", "weight": 0.5, "temperature": 1}"#
        let read = try JSONDecoder().decode(Distillation.self, from: Data(older.utf8))
        #expect(read == Distillation(teachers: ["models/default.safetensors"]))
        let written = String(decoding: try JSONEncoder().encode(read), as: UTF8.self)
        #expect(written.contains(#""teachers":["models\/default.safetensors"]"#) && !written.contains(#""teacher":"#), "\(written)")
        // Teachers answer for the clean image unless the recipe says otherwise; only the other choice is written.
        #expect(read.input == .clean && !written.contains("input"), "\(written)")
        let batches = Distillation(teachers: ["models/default.safetensors"], input: .augmented)
        let batchesWritten = try JSONEncoder().encode(batches)
        #expect(String(decoding: batchesWritten, as: UTF8.self).contains(#""input":"augmented""#))
        #expect(try JSONDecoder().decode(Distillation.self, from: batchesWritten) == batches)
        let empty = #"{"teachers": [], "weight": 0.5, "temperature": 1}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Distillation.self, from: Data(empty.utf8)) }
    }

    /// A recipe file whose input size no model file may declare, or whose preprocessing disagrees with its
    /// architecture, is refused when read (before any data is loaded at that size), and by the trainer.
    @Test func recipeInputSizesAreCheckedWhenRead() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-recipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var huge = try #require(TrainingRecipe.builtIn("tiny"))
        huge.architecture = Architecture(.miniXception, inputSize: 100_000)
        huge.preprocessing = .symmetric(inputSize: 100_000)
        var disagreeing = try #require(TrainingRecipe.builtIn("tiny"))
        disagreeing.preprocessing = .symmetric(inputSize: 48)
        for (name, recipe, message) in [("huge", huge, "architecture.inputSize is 100000; expected 8-512 pixels"),
                                        ("disagreeing", disagreeing, "preprocessing.inputSize is 48 but the architecture takes 64x64 faces")] {
            let path = folder.appendingPathComponent("\(name).json").path
            try JSONEncoder().encode(recipe).write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: ModelError.self) { try TrainingRecipe.load(path) }
            #expect(error.description.contains(path) && error.description.contains(message), "\(error)")
            let refused = try #require(throws: TrainingError.self) {
                try Trainer(recipe: recipe, training: FaceDataset(imageSize: 48), validation: FaceDataset(imageSize: 48),
                            directory: folder.path)
            }
            #expect(refused.description.contains(message), "\(refused)")
        }
    }

    /// Every built-in recipe passes `validate()`; each setting out of its range is refused naming it, from a file and
    /// by the trainer alike (a plateau patience of 0 divided by zero in the trainer, a batch of 0 in the sampler).
    @Test func settingsOutOfRangeAreRefused() throws {
        for name in TrainingRecipe.builtInNames { try #require(TrainingRecipe.builtIn(name)).validate() }
        let base = try #require(TrainingRecipe.builtIn("tiny"))
        let cases: [(String, (inout TrainingRecipe) -> Void, String)] = [
            ("plateau", { $0.schedule = .reduceOnPlateau(factor: 0.1, patience: 0, minimum: 0) },
             "the recipe's plateauPatience: expected 1 to 100000, received 0"),
            ("batch", { $0.batchSize = 0 }, "the recipe's batchSize: expected 2 to 65536, received 0"),
            // nil never stops; 0 stopped after the first epoch.
            ("stopping", { $0.earlyStoppingPatience = 0 }, "the recipe's earlyStoppingPatience: expected 1 to 100000, received 0"),
            ("epochs", { $0.epochs = Int.max }, "the recipe's epochs: expected 1 to 100000"),
            // The average of the last epochs needs at least one and at most the run's (tiny's 120).
            ("average", { $0.averagedFinalEpochs = 0 }, "the recipe's averagedFinalEpochs: expected 1 to 120, received 0"),
            ("average", { $0.averagedFinalEpochs = 121 }, "the recipe's averagedFinalEpochs: expected 1 to 120, received 121"),
            ("decay", { $0.weightDecay = -1 }, "the recipe's weightDecay: expected 0 or more, received -1.0"),
            ("rate", { $0.learningRate = -1 }, "the recipe's learningRate: expected a positive number, received -1.0"),
            ("teacher", { $0.distillation = Distillation(teachers: ["t.safetensors"], temperature: 0) },
             "the recipe's teacherTemperature: expected a positive number, received 0.0"),
            // A shift of 1e38 trapped in the warp (Float to Int); the augmentation, optimizer and preprocessing too.
            ("shift", { $0.augmentation.maximumShiftFraction = 1e38 },
             "the recipe's maximumShiftFraction: expected a fraction of the size, 0...1, received 1e+38"),
            ("flip", { $0.augmentation.horizontalFlipProbability = 3 },
             "the recipe's horizontalFlipProbability: expected a probability, 0...1, received 3.0"),
            ("zoom", { $0.augmentation.minimumZoom = 2 }, "the recipe's zoom: expected 0 < minimumZoom <= maximumZoom <= 10"),
            ("severity", { $0.augmentation.corruptions = .init(probability: 0.5, kinds: [.blur], maximumSeverity: 9) },
             "the recipe's corruptionSeverity: expected 0...5, the benchmark's scale, received 9.0"),
            ("beta", { $0.optimizer = .adam(beta1: 1) }, "the recipe's beta1: expected 0 or more and below 1, received 1.0"),
            ("scale", { $0.preprocessing.scale = 0 }, "the recipe's preprocessing: expected a non-zero scale of at most 10"),
            ("scale", { $0.preprocessing.scale = 20 }, "the recipe's preprocessing: expected a non-zero scale of at most 10"),
            // A class count of 0 trapped in the dense layer, 10^9 aborted allocating, 3 failed after an epoch.
            ("classes", { $0.architecture.classCount = 0 },
             "the recipe's architecture.classCount: expected 2 to 7, received 0"),
            ("votes", { $0.architecture.classCount = 3; $0.softLabels = SoftLabels(file: "ferplus.csv", weight: 0.5) },
             "the recipe's architecture.classCount: expected 7 with soft labels (FER+ votes cover the seven emotions), received 3"),
            ("family", { $0.architecture.name = "resnet" },
             "the recipe's architecture.name: expected one of mini-xception, wide-xception, tiny-cnn, received 'resnet'"),
        ]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-recipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var short = base
        short.epochs = 2
        short.schedule = .cosine(warmupEpochs: 2, minimum: 0)
        #expect(short.caveat?.contains("2 warm-up epochs cover the whole 2-epoch run") == true)
        short.epochs = 3
        #expect(short.caveat == nil)
        for (name, change, message) in cases {
            var recipe = base
            change(&recipe)
            let refused = try #require(throws: TrainingError.self) { try recipe.validate() }
            #expect(refused.description == message || refused.description.hasPrefix(message), "\(refused)")
            let path = folder.appendingPathComponent("\(name).json").path
            try JSONEncoder().encode(recipe).write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: ModelError.self) { try TrainingRecipe.load(path) }
            #expect(error.description.contains(path) && error.description.contains(message), "\(error)")
        }
    }

    /// A recipe file that cannot be decoded says what was found: a missing field by name, a number that does not fit
    /// its field (Foundation on Linux calls that "not valid JSON" and names no field), text that is not JSON.
    @Test func undecodableRecipeFilesSayWhatWasFound() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-recipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tiny = try #require(TrainingRecipe.builtIn("tiny"))
        var fields = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(tiny)) as? [String: Any])
        fields["epochs"] = 1.5
        let fraction = try JSONSerialization.data(withJSONObject: fields)
        fields["epochs"] = 10
        fields["architecture"] = nil
        let missing = try JSONSerialization.data(withJSONObject: fields)
        for (name, data, found) in [("fraction", fraction, "found a number that does not fit its field"),
                                    ("missing", missing, #"found no "architecture""#),
                                    ("cut", Data(#"{"epochs": "#.utf8), "found text that is not JSON")] {
            let path = folder.appendingPathComponent(name + ".json").path
            try data.write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: ModelError.self) { try TrainingRecipe.load(path) }
            #expect(error.description.contains("\(path)") && error.description.contains(found), "\(error)")
        }
    }

    /// The schedule options: a kind builds that schedule; a lone patience or warm-up changes a base schedule of its
    /// kind, and one the schedule does not use is refused (it was dropped silently).
    @Test func scheduleOverridesFollowTheBaseSchedule() throws {
        let cosineBase = try #require(TrainingRecipe.builtIn("tiny"))  // cosine, 2 warm-up epochs
        var warmup = RecipeOverrides()
        warmup.warmupEpochs = 5
        #expect(try cosineBase.applying(warmup).schedule == .cosine(warmupEpochs: 5, minimum: 0))
        var patience = RecipeOverrides()
        patience.plateauPatience = 4
        let unused = try #require(throws: TrainingError.self) { try cosineBase.applying(patience) }
        #expect(unused.description == "plateauPatience is given, but the learning-rate schedule is cosine, which does not use it (give the plateau schedule with it)")
        patience.schedule = .plateau
        #expect(try cosineBase.applying(patience).schedule == .reduceOnPlateau(factor: 0.1, patience: 4, minimum: 1e-6))
        var constant = RecipeOverrides()
        constant.schedule = .constant
        constant.warmupEpochs = 5
        let error = try #require(throws: TrainingError.self) { try cosineBase.applying(constant) }
        #expect(error.description.contains("warmupEpochs is given, but the learning-rate schedule is constant"), "\(error)")
    }

    /// Initial weights bring their model's architecture unless the size or family is given.
    @Test func initialWeightsBringTheirArchitecture() throws {
        let base = try #require(TrainingRecipe.builtIn("standard"))
        var overrides = RecipeOverrides()
        let tiny = Self.packageRoot.appendingPathComponent("models/tiny.safetensors").path
        overrides.initialWeights = [tiny]
        let fineTune = try base.applying(overrides)
        #expect(fineTune.architecture == Architecture(.miniXception, inputSize: 64))
        #expect(fineTune.preprocessing.inputSize == 64)
        #expect(fineTune.initialWeights == tiny && fineTune.averagedWeights == nil)
        overrides.inputSize = 48
        #expect(try base.applying(overrides).architecture == Architecture(.wideXception, inputSize: 48))
    }

    /// Several initial weights make a soup: the first is `initialWeights`, the rest `averagedWeights`; one file given
    /// over a soup recipe replaces the whole soup.
    @Test func severalInitialWeightsAreAveraged() throws {
        let tinyRobust = Self.packageRoot.appendingPathComponent("models/tiny-robust.safetensors").path
        let tiny = Self.packageRoot.appendingPathComponent("models/tiny.safetensors").path
        var overrides = RecipeOverrides()
        overrides.initialWeights = [tinyRobust, tiny]
        let soup = try #require(TrainingRecipe.builtIn("standard")).applying(overrides)
        #expect(soup.initialWeights == tinyRobust && soup.averagedWeights == [tiny])
        #expect(soup.startingWeights == [tinyRobust, tiny])
        #expect(soup.architecture == Architecture(.miniXception, inputSize: 64))
        overrides.initialWeights = [tiny]
        let single = try soup.applying(overrides)
        #expect(single.startingWeights == [tiny] && single.averagedWeights == nil)
    }
}
