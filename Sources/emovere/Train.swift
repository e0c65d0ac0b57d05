import ArgumentParser
import Emovere
import EmovereCore
import EmovereData
import EmovereNN
import EmovereReport
import EmovereTensor
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an emotion model on FER2013 (CSV or image folders).",
        discussion: """
            Validates every epoch on PublicTest (or on --validation-fraction of Training), writes \
            log.csv, best.safetensors (+ .card.json) and an atomic checkpoint.safetensors to --out after \
            every epoch (with --average-final-epochs N, also the last N epochs' weights in final-epochs/ and \
            averaged.safetensors at the end). Re-run with --resume to continue an interrupted run.
            """)

    @Option(help: "FER2013 data: fer2013.csv or a folder with train/ and test/ class folders (or train/, val/ and test/: val/ validates).")
    var data: String

    @Option(help: """
        The recipe to start from: a built-in name (\(TrainingRecipe.builtInNames.joined(separator: ", "))), a model file \
        (.safetensors, whose card holds its recipe) or a recipe.json from a training directory. The options below \
        override single settings.
        """)
    var recipe = TrainingRecipe.defaultName

    @Option(help: "Architecture.")
    var model: Architecture.Family?

    @Option(help: "Input size in pixels, 8-512 (the bundled models: 48 or 64).")
    var inputSize: Int?

    @Option(help: "Number of epochs.")
    var epochs: Int?

    @Option(help: "Images per training batch.")
    var batchSize: Int?

    @Option(help: "Random seed: same seed and data give the same weights.")
    var seed: UInt64?

    @Option(help: "Output directory for the log, checkpoint and best model.")
    var out: String

    @Option(help: "Optimizer: adam or sgd (SGD with Nesterov momentum 0.9).")
    var optimizer: RecipeOverrides.Optimizer?

    @Option(help: "Base learning rate.")
    var learningRate: Float?

    @Option(help: "L2 weight decay on kernels.")
    var weightDecay: Float?

    @Option(help: "Learning-rate schedule: plateau, cosine, one-cycle or constant.")
    var schedule: RecipeOverrides.Schedule?

    @Option(help: "Plateau schedule: epochs without improvement before the rate is divided by 10 (default: the recipe's; 8 when --schedule plateau is given).")
    var plateauPatience: Int?

    @Option(help: "Warm-up epochs for the cosine schedule (default: the recipe's; 3 when --schedule cosine is given).")
    var warmupEpochs: Int?

    @Option(help: "Label smoothing (0 disables).")
    var labelSmoothing: Float?

    @Flag(inversion: .prefixedNo, help: "Weight classes inversely to their frequency.")
    var balanceClasses: Bool?

    @Option(help: "Mixup alpha (0 disables).")
    var mixup: Float?

    @Option(help: """
        Augmentation: standard (flip, rotation, shift, zoom, random erasing), classic (the same without erasing), \
        robust (wider framing and camera corruptions: blur, low resolution, noise, JPEG, exposure, occlusion), \
        robust-heavy (corruptions on 60 % of faces, up to the benchmark's top severity, blur, low resolution and a \
        covered mouth twice as often) or none.
        """)
    var augmentation: Augmentation.Preset?

    @Option(help: "Stop after this many epochs without validation improvement (0 never stops early).")
    var earlyStopping: Int?

    @Option(help: "Validate on this fraction of Training instead of PublicTest (e.g. 0.1).")
    var validationFraction: Double?

    @Option(help: "Start from this model file's weights (fine-tuning) instead of a random initialisation; its architecture and input size become the run's. Repeat it to start from the mean of several files of one architecture (a model soup).")
    var initialWeights: [String] = []

    @Flag(inversion: .prefixedNo, help: "Validate (and save) each epoch's model with batch-norm statistics re-estimated on the clean training faces, not the running average over augmented batches.")
    var recomputeStatistics: Bool?

    @Option(help: ArgumentHelp(
        "FER+ crowd votes (ferplus.csv) mixed into the training targets; images most annotators called not a face are left out.",
        valueName: "file.csv"))
    var softLabels: String?

    @Option(help: "With --soft-labels: the votes' share of each target, 0-1 (default 0.5).")
    var softLabelWeight: Float?

    @Option(help: ArgumentHelp(
        "A trained model whose predictions for each training image (the clean face, computed once, or each augmented batch with --teacher-input augmented) are mixed into the training targets (knowledge distillation). Repeat it for an ensemble: the teachers' mean is mixed in.",
        valueName: "model.safetensors"))
    var teacher: [String] = []

    @Option(help: "With --teacher: the teachers' share of each target, 0-1 (default 0.5).")
    var teacherWeight: Float?

    @Option(help: "With --teacher: the temperature T of each teacher's answer, p^(1/T) renormalised over the mean of its views (softmax(logits / T) for a single view); above 1 flattens it (default 1; the teacher card's own fitted temperatures are not applied).")
    var teacherTemperature: Float?

    @Option(help: "With --teacher: the views each teacher averages for clean input (default: its card's test-time augmentation).")
    var teacherTta: TestTimeAugmentation?

    @Option(help: "With --teacher: what the teachers answer for: the clean face, once before training (default), or each augmented batch as the student sees it, single view (resampled to each teacher's input size).")
    var teacherInput: Distillation.Input?

    @Option(help: "The convolutions' arithmetic in training steps: float32, or bfloat16 (bfloat16 multiplications with single-precision sums in the forward products, input gradients and weight gradients of layers wide enough to gain; faster on AMD CPUs with AVX512_BF16 and Intel CPUs with AMX tiles, elsewhere float32 runs; validation stays float32). Default: the recipe's (float32 for all but consistent-patient, which trains in bfloat16).")
    var precision: Precision?

    @Option(help: ArgumentHelp(
        "Also write averaged.safetensors at the end: the mean of the weights of the run's last N epochs, batch-norm statistics re-estimated on the clean training faces, validated (0: none; default: the recipe's).",
        valueName: "N"))
    var averageFinalEpochs: Int?

    @Flag(help: "Continue the run whose checkpoint is in --out.")
    var resume = false

    @Flag(help: "Treat malformed data rows or files as fatal errors.")
    var strict = false

    /// Whether the run continues from a checkpoint in `out` (not one stopped in its first epoch, which starts again).
    private var resumesCheckpoint: Bool {
        resume && FileManager.default.fileExists(atPath: Trainer.checkpointPath(in: out))
    }

    func validate() throws {
        let checkpoint = Trainer.checkpointPath(in: out)
        if FileManager.default.fileExists(atPath: checkpoint) && !resume {
            throw ValidationError("\(out) already holds a checkpoint; pass --resume to continue it or choose another --out")
        }
        // A finished run whose checkpoint was removed (to save space) keeps its log, best model and average: a new
        // run there would replace them.
        if !resume, let kept = [Trainer.logPath(in: out), Trainer.averagedModelPath(in: out)]
            .first(where: FileManager.default.fileExists(atPath:)) {
            throw ValidationError("\(out) holds the results of an earlier run (\(kept)); choose another --out")
        }
        // A run stopped in its first epoch left its recipe but no checkpoint or log (perhaps a best model, written
        // before the first checkpoint): --resume starts it again (run()). One with finished epochs (a log, written
        // after each epoch's checkpoint) whose checkpoint is gone is not overwritten.
        if resume && !FileManager.default.fileExists(atPath: checkpoint) {
            guard FileManager.default.fileExists(atPath: Trainer.recipePath(in: out)) else {
                throw ValidationError("--resume: no checkpoint at \(checkpoint), and no run was started in \(out)")
            }
            let log = Trainer.logPath(in: out)
            if FileManager.default.fileExists(atPath: log) {
                throw ValidationError("--resume: no checkpoint at \(checkpoint), but the run finished epochs (\(log) is there): its checkpoint was removed, so it cannot continue; start a new run in another --out")
            }
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) && !isDirectory.boolValue {
            throw ValidationError("--out \(out) is a file: name the folder for the run's log, checkpoints and model")
        }
        try OutputPaths.checkFoldersAbove(out, option: "--out")
        try CommandSupport.validateInputSize(inputSize)
        if softLabelWeight != nil && softLabels == nil { throw ValidationError("--soft-label-weight needs --soft-labels") }
        // A resumed run takes its weights from its checkpoint: its starting files may be gone.
        let startingFiles = resumesCheckpoint ? [] : initialWeights
        for (option, path) in teacher.map({ ("--teacher", $0) }) + startingFiles.map({ ("--initial-weights", $0) })
            + [("--soft-labels", softLabels)] {
            if let path, !FileManager.default.fileExists(atPath: path) {
                throw ValidationError("\(option): no file at \(path)")
            }
        }
        if (teacherWeight != nil || teacherTemperature != nil || teacherTta != nil || teacherInput != nil)
            && teacher.isEmpty {
            throw ValidationError("--teacher-weight, --teacher-temperature, --teacher-tta and --teacher-input need --teacher")
        }
        if teacherTta != nil && teacherInput == .augmented {
            throw ValidationError("--teacher-tta applies to --teacher-input clean; with augmented input each teacher sees the student's single view")
        }
        do {
            let recipe = try effectiveRecipe()
            try recipe.validate()
            // The files a recipe names itself (a built-in soup's snapshots, a recipe file's teachers) are opened only
            // after the data is loaded: a missing one is told now, with the setting that names it.
            let named = (resumesCheckpoint ? [] : recipe.startingWeights.map { ("its starting weights", $0) })
                + (recipe.distillation?.teachers ?? []).map { ("its teachers", $0) }
                + [recipe.softLabels.map { ("its soft labels", $0.file) }].compactMap { $0 }
            for (setting, path) in named where !FileManager.default.fileExists(atPath: path) {
                throw ValidationError("the recipe \(self.recipe) names \(path) among \(setting), and there is no such file (paths are relative to the current folder, \(FileManager.default.currentDirectoryPath))")
            }
        } catch let error as TrainingError {
            switch error {
            case let .invalidSetting(.earlyStoppingPatience, _, received) where earlyStopping != nil:
                // The option's 0 means never (the recipe's nil), which the recipe's range does not show.
                throw ValidationError("--early-stopping must be 0 (never stop early) or 1 to \(TrainingRecipe.maximumEpochs), received \(received)")
            case let .invalidSetting(.averagedFinalEpochs, expected, received) where averageFinalEpochs != nil:
                throw ValidationError("--average-final-epochs must be 0 (no average) or \(expected) (the run's epochs), received \(received)")
            case let .invalidSetting(setting, _, _), let .settingUnused(setting, _, _):
                guard let option = Self.option(setting: setting) else { throw error }
                throw ValidationError("\(error) (\(option) sets it)")
            default:
                throw error
            }
        }
    }

    /// The recipe the run trains with: `--recipe` with the options' settings over it.
    private func effectiveRecipe() throws -> TrainingRecipe {
        var overrides = overrides
        if resumesCheckpoint && overrides.initialWeights != nil {
            // The checkpoint records what the starting files held.
            let recorded = try Trainer.checkpointRecipe(in: out)
            overrides.startingModel = (recorded.architecture, recorded.preprocessing)
        }
        return try TrainingRecipe.load(recipe).applying(overrides)
    }

    /// The option that sets a recipe's `setting`, where one does.
    private static func option(setting: TrainingRecipe.Setting) -> String? {
        switch setting {
        case .epochs: "--epochs"
        case .batchSize: "--batch-size"
        case .learningRate: "--learning-rate"
        case .weightDecay: "--weight-decay"
        case .labelSmoothing: "--label-smoothing"
        case .mixupAlpha: "--mixup"
        case .earlyStoppingPatience: "--early-stopping"
        case .validationHoldOut: "--validation-fraction"
        case .plateauPatience: "--plateau-patience"
        case .warmupEpochs: "--warmup-epochs"
        case .softLabelWeight: "--soft-label-weight"
        case .teacherWeight: "--teacher-weight"
        case .teacherTemperature: "--teacher-temperature"
        case .averagedFinalEpochs: "--average-final-epochs"
        case .plateauFactor, .minimumLearningRate, .warmupFraction, .horizontalFlipProbability, .maximumRotationDegrees,
             .maximumShiftFraction, .zoom, .cropPadding, .erasingProbability, .erasingArea, .erasingValue, .border,
             .corruptionProbability, .corruptionKinds, .corruptionSeverity, .beta1, .beta2, .epsilon, .momentum,
             .preprocessing, .architectureName, .classCount: nil
        }
    }

    /// The settings the options give, over the base recipe.
    var overrides: RecipeOverrides {
        var result = RecipeOverrides()
        result.family = model
        result.inputSize = inputSize
        result.epochs = epochs
        result.batchSize = batchSize
        result.seed = seed
        result.optimizer = optimizer
        result.learningRate = learningRate
        result.weightDecay = weightDecay
        result.schedule = schedule
        result.plateauPatience = plateauPatience
        result.warmupEpochs = warmupEpochs
        result.labelSmoothing = labelSmoothing
        result.balancesClasses = balanceClasses
        result.mixupAlpha = mixup
        result.augmentation = augmentation
        result.earlyStoppingPatience = earlyStopping
        result.validationHoldOut = validationFraction
        result.softLabels = softLabels.map { SoftLabels(file: $0, weight: softLabelWeight ?? 0.5) }
        result.distillation = teacher.isEmpty ? nil
            : Distillation(teachers: teacher, weight: teacherWeight ?? 0.5, temperature: teacherTemperature ?? 1,
                           testTimeAugmentation: teacherTta, input: teacherInput ?? .clean)
        result.initialWeights = initialWeights.isEmpty ? nil : initialWeights
        result.recomputesBatchNormStatistics = recomputeStatistics
        result.precision = precision
        result.averagedFinalEpochs = averageFinalEpochs
        return result
    }

    func run() throws {
        let recipe = try effectiveRecipe()
        if let caveat = recipe.caveat { StandardError.write("warning: \(caveat)\n") }
        // Held until the process ends: a second run in the same folder would overwrite this one's checkpoint.
        try AtomicFile.createFolder(atPath: out)
        let lock = try FileLock(folder: out, remedy: "choose another --out")
        defer { withExtendedLifetime(lock) {} }
        if resumesCheckpoint {
            let recorded = try Trainer.verifyResumable(directory: out, recipe: recipe)
            if recorded.epochs != recipe.epochs, recipe.schedule.isLaidOutOverEpochs {
                let change = recipe.epochs > recorded.epochs
                    ? "stretches it: the rate rises again from where the last epoch left it, without a warm-up"
                    : "squeezes it: the rate falls faster than the run so far expected"
                StandardError.write("warning: --epochs \(recipe.epochs) changes the learning-rate schedule laid out over the run's \(recorded.epochs) epochs; it \(change)\n")
            }
        } else if resume {
            StandardError.write("note: the run in \(out) stopped before its first epoch ended (no checkpoint): starting it from the beginning\n")
        }
        let (training, validation) = try CommandSupport.loadTrainingData(
            path: data, recipe: recipe, strict: strict)
        print("training on \(training.count) images, validating on \(validation.count) (\(recipe.validationHoldOut.map { "\(String(format: "%g", $0 * 100))% of Training" } ?? "PublicTest"))")
        recipe.precision?.noteFallback()
        let trainer = try Trainer(recipe: recipe, training: training, validation: validation, directory: out)
        trainer.trainingCommand = CommandLine.arguments.joined(separator: " ")
        trainer.progress = ProgressBar.factory()
        trainer.epochFinished = TrainingCurves.writer(directory: out, title: "\(recipe.architecture), seed \(recipe.seed)")
        trainer.log = { line in
            print(line)
            fflush(nil)  // each epoch's line reaches a redirected log file as it happens
        }
        if let summary = trainer.softLabelSummary { print(summary) }
        print("\(recipe.architecture): \(trainer.model.parameterCount) parameters, \(trainer.model.multiplyAddsPerFace) multiply-adds per face")
        let state = try trainer.run()
        print(String(format: "done: %d epochs, best validation accuracy %.4f at epoch %d -> %@",
                     state.completedEpochs, state.bestValidationAccuracy, state.bestEpoch, trainer.bestModelPath))
    }
}

extension Architecture.Family: ExpressibleByArgument {}

extension RecipeOverrides.Optimizer: ExpressibleByArgument {}
extension RecipeOverrides.Schedule: ExpressibleByArgument {}
extension Augmentation.Preset: ExpressibleByArgument {}
extension Distillation.Input: ExpressibleByArgument {}
