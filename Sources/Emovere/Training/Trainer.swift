import EmovereCore
import EmovereData
import EmovereFiles
import EmovereNN
import EmovereTensor
import Foundation

/// Trains a model from a `TrainingRecipe` on FER2013-style data, with validation every epoch, a CSV log,
/// best-model saving and an atomic checkpoint after every epoch from which `run` resumes.
///
/// Files in `directory`: `checkpoint.safetensors` (weights, optimizer state, progress), `best.safetensors`
/// (+ `.card.json`, the best validation epoch's model), `log.csv`, `recipe.json`, and with distillation
/// `teacher-checksums.txt` (the teachers' checksums, checked on resume) and, for clean input,
/// `teacher-probabilities.safetensors` (the teachers' answers for the clean images, computed once), and with
/// `averagedFinalEpochs` N the models of the last N epochs done (`final-epochs/NNN.safetensors`) and, when the run
/// ends, their mean (`averaged.safetensors`). Progress goes to `progress`, and `epochFinished` may add files of its own
/// (the `emovere` tool plots `curves.svg`).
public final class Trainer {
    public let recipe: TrainingRecipe
    public let model: Model
    public let optimizer: Optimizer
    public let training: FaceDataset
    public let validation: FaceDataset
    public let directory: String
    /// The command line recorded in model cards.
    public var trainingCommand: String?
    /// Stop after this many epochs of this process (used by tests to simulate an interruption).
    public var epochLimit: Int?
    /// Reports each epoch's images (with running loss and accuracy) and the teacher's pass; nil: silent.
    public var progress: ProgressSinkFactory?
    /// Called after each epoch's checkpoint and log are written, with the state so far.
    public var epochFinished: ((TrainingState) throws -> Void)?
    /// Receives one summary line per epoch.
    public var log: (String) -> Void = { print($0) }
    public private(set) var state: TrainingState

    private let classWeights: [Float]
    /// `validation.contentDigest` when the recipe holds the validation images out of Training, for the card.
    private let heldOutDigest: String?

    /// Per training image, the distribution its soft label mixes in (empty without soft labels).
    private let voteDistributions: [[Float]?]
    /// Per training image, the teacher's distribution its target mixes in (empty without `.clean` distillation).
    private var teacherDistributions: [[Float]] = []
    /// The teachers that answer each augmented batch (nil without `.augmented` distillation).
    private var batchTeachers: BatchTeachers?

    public init(recipe: TrainingRecipe, training: FaceDataset, validation: FaceDataset, directory: String) throws {
        try recipe.validate()
        var training = training
        var voteDistributions: [[Float]?] = []
        if let softLabels = recipe.softLabels {
            (training, voteDistributions) = try Self.applying(softLabels, to: training)
        }
        self.voteDistributions = voteDistributions
        guard training.count >= recipe.batchSize else {
            throw TrainingError.notEnoughData(count: training.count, batchSize: recipe.batchSize)
        }
        guard validation.count > 0 else { throw TrainingError.emptyValidation }
        let classes = recipe.architecture.classCount
        if let label = (training.labels + validation.labels).first(where: { $0 >= classes }) {
            throw TrainingError.invalidSetting(
                .classCount, expected: "a class for every label of the data (\(Emotion(rawValue: label)?.name ?? "\(label)") is class \(label))",
                received: "\(classes)")
        }
        // The model files the run writes hold the seven emotions: another class count would be found out only at the
        // first save, after an epoch.
        guard classes == Emotion.count else {
            throw TrainingError.invalidSetting(
                .classCount, expected: "\(Emotion.count) (a model file holds the seven emotions)", received: "\(classes)")
        }
        self.recipe = recipe
        self.training = training
        self.validation = validation
        heldOutDigest = recipe.validationHoldOut == nil ? nil : validation.contentDigest
        self.directory = directory
        // A run that resumes takes every weight from its checkpoint: its starting files need not be there any more.
        model = FileManager.default.fileExists(atPath: Self.checkpointPath(in: directory))
            ? try Model(architecture: recipe.architecture, seed: recipe.seed) : try Self.initialModel(recipe)
        model.network.setTrainingPrecision((recipe.precision ?? .float32).supported)
        optimizer = Optimizer(rule: recipe.optimizer, weightDecay: recipe.weightDecay, parameters: model.parameters)
        state = TrainingState(learningRate: recipe.learningRate)
        let counts = training.classCounts
        classWeights = counts.map { count in
            recipe.balancesClasses && count > 0 ? Float(training.count) / Float(counts.count * count) : 1
        }
        Gemm.configureThreads()
    }

    /// The training set without the images most annotators called not a face (when asked), and each image's vote
    /// distribution.
    private static func applying(_ softLabels: SoftLabels, to training: FaceDataset) throws -> (FaceDataset, [[Float]?]) {
        guard !training.sources.isEmpty else { throw TrainingError.softLabelsNeedFileNames(file: softLabels.file) }
        let votes = try FERPlusVotes(contentsOf: softLabels.file).votes(for: training)
        let kept = training.labels.indices.filter { !(softLabels.dropsNonFaces && votes[$0]?.isNotAFace == true) }
        guard !kept.isEmpty else { throw TrainingError.softLabelsDropEverything(file: softLabels.file, images: training.count) }
        guard kept.contains(where: { votes[$0]?.distribution != nil }) else {
            throw TrainingError.softLabelsMatchNothing(file: softLabels.file, images: training.count)
        }
        return (training.subset(kept), kept.map { votes[$0]?.distribution })
    }

    /// A line on what the soft labels changed, for the log, naming the first images without votes; nil without soft
    /// labels.
    public var softLabelSummary: String? {
        guard let softLabels = recipe.softLabels else { return nil }
        let unmatched = voteDistributions.indices.filter { voteDistributions[$0] == nil }
        let named = unmatched.prefix(3).map { training.sources[$0] }.joined(separator: ", ")
            + (unmatched.count > 3 ? " and \(unmatched.count - 3) more" : "")
        return "soft labels from \(softLabels.file) (weight \(softLabels.weight)): "
            + "\(training.count - unmatched.count) of \(training.count) training images have votes"
            + (unmatched.isEmpty ? "" : " (none for \(named): their labels alone are their targets)")
            + (softLabels.dropsNonFaces ? "; images voted not a face were left out" : "")
    }

    /// The recipe's starting weights (the mean of several files for a soup), or its architecture initialised from its
    /// seed.
    private static func initialModel(_ recipe: TrainingRecipe) throws -> Model {
        let paths = recipe.startingWeights
        guard let path = paths.first else { return try Model(architecture: recipe.architecture, seed: recipe.seed) }
        let (model, card) = paths.count == 1 ? try ModelFile.load(path) : try WeightAveraging.average(paths)
        guard card.architecture == recipe.architecture else {
            throw TrainingError.initialWeightsMismatch(path: path, expected: recipe.architecture, found: card.architecture)
        }
        return model
    }

    public var checkpointPath: String { Self.checkpointPath(in: directory) }
    public var bestModelPath: String { Self.bestModelPath(in: directory) }
    public var logPath: String { Self.logPath(in: directory) }

    /// Where a run in `directory` keeps the model of its best validation epoch.
    public static func bestModelPath(in directory: String) -> String { directory + "/best.safetensors" }

    /// Where a run in `directory` logs its epochs.
    public static func logPath(in directory: String) -> String { directory + "/log.csv" }

    /// The checkpoint file of a run in `directory`.
    public static func checkpointPath(in directory: String) -> String { directory + "/checkpoint.safetensors" }

    /// Where a run in `directory` writes the mean of its last epochs (`TrainingRecipe.averagedFinalEpochs`).
    public static func averagedModelPath(in directory: String) -> String { directory + "/averaged.safetensors" }

    /// Where a run in `directory` keeps the model after `epoch` while it is among the last epochs to average.
    static func finalEpochPath(in directory: String, epoch: Int) -> String {
        directory + "/" + finalEpochsFolder + "/" + String(format: "%03d", epoch) + ".safetensors"
    }

    private static let finalEpochsFolder = "final-epochs"

    /// Where a run in `directory` records its recipe, when it starts.
    public static func recipePath(in directory: String) -> String { directory + "/recipe.json" }

    /// Checks, before the data is loaded, that `recipe` can continue the run in `directory`: its checkpoint is an
    /// Emovere checkpoint, intact, and made with `recipe` (the epoch count may differ, at least the epochs done).
    /// Returns the recipe the checkpoint records (its epoch count the run's length when it was saved).
    @discardableResult
    public static func verifyResumable(directory: String, recipe: TrainingRecipe) throws -> TrainingRecipe {
        try Checkpoint.verify(at: checkpointPath(in: directory), recipe: recipe)
    }

    /// The recipe of the checkpoint in `directory` (checked to be an intact Emovere checkpoint).
    public static func checkpointRecipe(in directory: String) throws -> TrainingRecipe {
        try Checkpoint.recipe(at: checkpointPath(in: directory))
    }

    /// Trains until `recipe.epochs`, early stopping or `epochLimit`, resuming from the checkpoint in
    /// `directory` when one exists. Returns the final state.
    @discardableResult
    public func run() throws -> TrainingState {
        try AtomicFile.createFolder(atPath: directory)
        let data = Checkpoint.dataChecksum(training: training, validation: validation, votes: voteDistributions)
        var stale: [String] = []
        if FileManager.default.fileExists(atPath: checkpointPath) {
            try Checkpoint.restore(from: checkpointPath, recipe: recipe, data: data, model: model, optimizer: optimizer,
                                   state: &state)
            log("resumed from \(checkpointPath) after epoch \(state.completedEpochs)")
        } else {
            // A run without a checkpoint starts over: teachers' answers or records left by a start that never
            // finished an epoch belong to that start, not this one, and the last epochs' models belong to an earlier
            // run.
            stale = [Teacher.cacheFileName, Teacher.recordFileName, Self.finalEpochsFolder].map { directory + "/" + $0 }
        }
        // The mean of a run's last epochs describes its end: gone before training goes on (a new run, an extended one).
        if state.completedEpochs < recipe.epochs && !state.stoppedEarly {
            stale += [Self.averagedModelPath(in: directory), ModelFile.cardPath(for: Self.averagedModelPath(in: directory))]
        }
        for file in stale where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.removeItem(atPath: file)
        }
        // A run killed while writing (a checkpoint, the size of the model and its optimizer state) left the file half
        // written under a temporary name.
        for folder in [directory, directory + "/" + Self.finalEpochsFolder] {
            for name in try AtomicFile.removeAbandonedTemporaryFiles(in: folder) {
                log("removed \(folder)/\(name), a file left half written by an interrupted run")
            }
        }
        // Written again on a resume, so a run extended with --epochs records its new length.
        try AtomicFile.write(Array(try JSONEncoder.sortedKeys(pretty: true).encode(recipe)), to: Self.recipePath(in: directory))
        if let distillation = recipe.distillation, teacherDistributions.isEmpty, batchTeachers == nil,
           state.completedEpochs < recipe.epochs && !state.stoppedEarly {
            let teachers = distillation.teachers.count == 1 ? "teacher \(distillation.teachers[0])"
                : "teachers \(distillation.teachers.joined(separator: ", ")) (mean)"
            switch distillation.input {
            case .clean:
                teacherDistributions = try Teacher.distributions(
                    distillation, for: training, classCount: model.architecture.classCount,
                    cache: directory + "/" + Teacher.cacheFileName, record: directory + "/" + Teacher.recordFileName,
                    progress: progress)
                log("\(teachers): probabilities for \(training.count) clean training images make \(distillation.weight) of each target")
            case .augmented:
                batchTeachers = try BatchTeachers(distillation, preprocessing: recipe.preprocessing,
                                                  classCount: model.architecture.classCount,
                                                  record: directory + "/" + Teacher.recordFileName,
                                                  precision: (recipe.precision ?? .float32).supported)
                log("\(teachers): probabilities for each augmented batch make \(distillation.weight) of each target")
            }
        }
        let sampler = BatchSampler(count: training.count, seed: recipe.seed)
        let stepsPerEpoch = training.count / recipe.batchSize
        var epochsThisRun = 0
        while state.completedEpochs < recipe.epochs && !state.stoppedEarly {
            if let epochLimit, epochsThisRun >= epochLimit { break }
            let epoch = state.completedEpochs + 1
            let record = try trainEpoch(epoch, batches: sampler.batches(epoch: epoch, batchSize: recipe.batchSize,
                                                                        dropLast: true), stepsPerEpoch: stepsPerEpoch)
            try finishEpoch(record)
            if recipe.averagedFinalEpochs != nil { try keepFinalEpoch(record) }
            try Checkpoint.save(to: checkpointPath, recipe: recipe, data: data, model: model, optimizer: optimizer,
                                state: state)
            if let window = recipe.averagedFinalEpochs { try removeEpochs(before: record.epoch - window + 1) }
            try writeLog()
            epochsThisRun += 1
        }
        // A run stopped after its last epoch's checkpoint but before its log: the log and curves get that epoch now.
        if epochsThisRun == 0 && !state.history.isEmpty { try writeLog() }
        let ended = state.completedEpochs == recipe.epochs || state.stoppedEarly
        // The mean and its card are written one after the other: a run stopped in between writes both again.
        let averaged = Self.averagedModelPath(in: directory)
        if let window = recipe.averagedFinalEpochs, ended,
           ![averaged, ModelFile.cardPath(for: averaged)].allSatisfy(FileManager.default.fileExists(atPath:)) {
            try saveAverage(window: window)
        }
        return state
    }

    /// Rewrites `log.csv` from the history, then calls `epochFinished`.
    private func writeLog() throws {
        try AtomicFile.write(
            ([EpochRecord.csvHeader] + state.history.map(\.csvLine)).joined(separator: "\n") + "\n", to: logPath)
        try epochFinished?(state)
    }

    /// Saves the model after `record`'s epoch among the final epochs. Written before the epoch's checkpoint: a run
    /// stopped in between redoes the epoch and writes it again.
    private func keepFinalEpoch(_ record: EpochRecord) throws {
        let folder = directory + "/" + Self.finalEpochsFolder
        try AtomicFile.createFolder(atPath: folder)
        try ModelFile.save(model, card: card(for: record), to: Self.finalEpochPath(in: directory, epoch: record.epoch))
    }

    /// Removes the final epochs' models before `firstKept`, fallen out of the window. Done after the epoch's
    /// checkpoint, so a run stopped in between (and resumed with fewer epochs) still has every model its mean needs.
    private func removeEpochs(before firstKept: Int) throws {
        let folder = directory + "/" + Self.finalEpochsFolder
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            // NNN.safetensors and its NNN.card.json.
            guard let epoch = Int(name.prefix { $0 != "." }), epoch < firstKept else { continue }
            try FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }

    /// Writes `averaged.safetensors`: the mean of the models of the last `window` epochs done (fewer when the run
    /// stopped early before that many), batch-norm statistics re-estimated on the clean training faces, validated.
    private func saveAverage(window: Int) throws {
        let epochs = max(1, state.completedEpochs - window + 1)...state.completedEpochs
        let averaged = try WeightAveraging.average(epochs.map { Self.finalEpochPath(in: directory, epoch: $0) }).model
        let used = try BatchNormStatistics.recompute(averaged, preprocessing: recipe.preprocessing, on: training,
                                                     batchSize: recipe.batchSize, progress: progress)
        let evaluation = try Evaluator(model: averaged, preprocessing: recipe.preprocessing).evaluate(validation)
        var card = card(metrics: ["validationAccuracy": evaluation.accuracy, "validationLoss": evaluation.loss])
        let named = epochs.count == 1 ? "epoch \(epochs.lowerBound)" : "epochs \(epochs.lowerBound)-\(epochs.upperBound)"
        card.notes = ["weights: the mean of \(named)'s models",
                      "batch-norm statistics: recomputed on \(used) of the \(training.count) clean training faces (whole batches of \(recipe.batchSize))"]
        let path = Self.averagedModelPath(in: directory)
        try ModelFile.save(averaged, card: card, to: path)
        log(String(format: "averaged %@  val_loss %.4f  val_acc %.4f, saved %@", named, evaluation.loss,
                   evaluation.accuracy, path))
    }

    private func trainEpoch(_ epoch: Int, batches: [ArraySlice<Int>], stepsPerEpoch: Int) throws -> EpochRecord {
        let progress = progress?(batches.count * recipe.batchSize, "epoch \(epoch)/\(recipe.epochs)")
        let stopwatch = Stopwatch()
        var lossSum = 0.0
        var correct = 0
        var seen = 0
        var mixing = SplitMix64(seed: recipe.seed).derived(stream: UInt64(epoch) &* 0x1_0000_0001)
        for (step, indices) in batches.enumerated() {
            let globalStep = (epoch - 1) * stepsPerEpoch + step
            let stepSeed = SplitMix64(seed: recipe.seed).derived(stream: UInt64(globalStep) &+ 0xA5A5_0000_0000).state
            let learningRate = LearningRate.value(recipe: recipe, state: state, epoch: epoch, step: step,
                                                  stepsPerEpoch: stepsPerEpoch)
            let outcome = self.step(indices, seed: stepSeed, learningRate: learningRate, mixing: &mixing)
            guard outcome.loss.isFinite else { throw TrainingError.diverged(epoch: epoch, step: step) }
            state.learningRate = learningRate
            lossSum += Double(outcome.loss) * Double(indices.count)
            correct += outcome.correct
            seen += indices.count
            progress?.update(completed: seen, metrics: [("loss", lossSum / Double(seen)),
                                                         ("acc", Double(correct) / Double(seen))])
        }
        progress?.finish(metrics: [])
        let seconds = stopwatch.elapsedSeconds
        if recipe.recomputesBatchNormStatistics == true {
            try BatchNormStatistics.recompute(model, preprocessing: recipe.preprocessing, on: training,
                                              batchSize: recipe.batchSize, progress: self.progress)
        }
        let evaluation = try Evaluator(model: model, preprocessing: recipe.preprocessing).evaluate(validation)
        // The last step's update can break the weights after its own loss was finite.
        guard evaluation.loss.isFinite else { throw TrainingError.divergedInValidation(epoch: epoch) }
        return EpochRecord(
            epoch: epoch, learningRate: state.learningRate, trainingLoss: lossSum / Double(max(seen, 1)),
            trainingAccuracy: Double(correct) / Double(max(seen, 1)), validationLoss: evaluation.loss,
            validationAccuracy: evaluation.accuracy, seconds: seconds, imagesPerSecond: Double(seen) / max(seconds, 1e-9))
    }

    /// The tensors one training step fills, allocated by the first step.
    private struct StepBuffers {
        let input: Tensor, targets: Tensor, probabilities: Tensor, logitsGradient: Tensor
        var sampleWeights: [Float]
        let filler: InputBatch
    }

    private var stepBuffers: StepBuffers?

    /// One optimisation step on the training images `indices` (a full batch): augmentation drawn from `seed`, targets,
    /// mixup (from `mixing`), forward, loss, backward and the optimizer's update at `learningRate`. Returns the mean
    /// loss (not finite when training diverged) and how many images the model classified right before the update.
    /// `Benchmark` times this same step.
    func step(_ indices: ArraySlice<Int>, seed: UInt64, learningRate: Float, mixing: inout SplitMix64) -> (loss: Float, correct: Int) {
        let size = recipe.preprocessing.inputSize
        let classes = model.architecture.classCount
        var buffers = stepBuffers ?? StepBuffers(
            input: Tensor(shape: [recipe.batchSize, size, size, 1]), targets: Tensor(shape: [recipe.batchSize, classes]),
            probabilities: Tensor(shape: [recipe.batchSize, classes]), logitsGradient: Tensor(shape: [recipe.batchSize, classes]),
            sampleWeights: [Float](repeating: 1, count: recipe.batchSize), filler: InputBatch(preprocessing: recipe.preprocessing))
        stepBuffers = nil
        defer { stepBuffers = buffers }
        buffers.filler.fill(buffers.input, from: training, indices: indices, augmentation: recipe.augmentation, seed: seed)
        setTargets(buffers.targets, indices: indices, weights: &buffers.sampleWeights)
        batchTeachers?.mix(into: buffers.targets, for: buffers.input)
        if recipe.mixupAlpha > 0 {
            Mixup.apply(input: buffers.input, targets: buffers.targets, alpha: recipe.mixupAlpha, random: &mixing)
        }
        let logits = model.logits(buffers.input, mode: ForwardMode(isTraining: true, seed: seed))
        let loss = buffers.sampleWeights.withUnsafeBufferPointer {
            Loss.softmaxCrossEntropy(logits: logits, targets: buffers.targets, sampleWeights: $0.baseAddress,
                                     probabilities: buffers.probabilities, logitsGradient: buffers.logitsGradient)
        }
        guard loss.isFinite else { return (loss, 0) }
        model.backward(buffers.logitsGradient)
        optimizer.update(learningRate: learningRate)
        return (loss, Self.countCorrect(buffers.probabilities, labels: indices.map { training.labels[$0] }))
    }

    private func finishEpoch(_ record: EpochRecord) throws {
        state.completedEpochs = record.epoch
        state.optimizerStep = optimizer.step
        state.elapsedSeconds += record.seconds
        state.history.append(record)
        var marker = ""
        if record.validationAccuracy > state.bestValidationAccuracy {
            state.bestValidationAccuracy = record.validationAccuracy
            state.bestEpoch = record.epoch
            state.epochsSinceImprovement = 0
            try saveBest(record)
            marker = " *best, saved \(bestModelPath)"
        } else {
            state.epochsSinceImprovement += 1
        }
        if case let .reduceOnPlateau(factor, patience, minimum) = recipe.schedule,
           state.epochsSinceImprovement > 0, state.epochsSinceImprovement % patience == 0 {
            state.learningRate = max(minimum, state.learningRate * factor)
        }
        if let patience = recipe.earlyStoppingPatience, state.epochsSinceImprovement >= patience {
            state.stoppedEarly = true
        }
        log(String(format: "epoch %d/%d  lr %.2g  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  %.0f img/s  %.0fs%@",
                   record.epoch, recipe.epochs, record.learningRate, record.trainingLoss, record.trainingAccuracy,
                   record.validationLoss, record.validationAccuracy, record.imagesPerSecond, record.seconds, marker))
        if state.stoppedEarly, record.epoch < recipe.epochs {
            log("stopping early: no validation improvement for \(state.epochsSinceImprovement) epochs (the recipe's earlyStoppingPatience); best epoch \(state.bestEpoch)")
        }
    }

    private func saveBest(_ record: EpochRecord) throws {
        try ModelFile.save(model, card: card(for: record), to: bestModelPath)
    }

    /// The card of the model after `record`'s epoch.
    private func card(for record: EpochRecord) -> ModelCard {
        card(metrics: ["validationAccuracy": record.validationAccuracy, "validationLoss": record.validationLoss,
                       "epoch": Double(record.epoch)])
    }

    /// A card of this run's: the recipe, `metrics`, the training time so far.
    private func card(metrics: [String: Double]) -> ModelCard {
        var card = ModelCard(architecture: recipe.architecture, preprocessing: recipe.preprocessing,
                             parameterCount: model.parameterCount, recipe: recipe, trainingCommand: trainingCommand)
        card.metrics = metrics
        card.trainingSeconds = state.elapsedSeconds
        card.heldOutDigest = heldOutDigest
        return card
    }

    /// Each row's target: the (smoothed) label, mixed with the image's crowd votes and then with the teacher's
    /// distribution where the recipe has them.
    private func setTargets(_ targets: Tensor, indices: ArraySlice<Int>, weights: inout [Float]) {
        let classes = targets.shape[1]
        let smoothing = recipe.labelSmoothing
        let voteWeight = recipe.softLabels?.weight ?? 0
        let teacherWeight = recipe.distillation?.weight ?? 0
        for (row, image) in indices.enumerated() {
            let label = training.labels[image]
            let votes = voteDistributions.isEmpty ? nil : voteDistributions[image]
            for k in 0..<classes {
                var target = (k == label ? 1 - smoothing : 0) + smoothing / Float(classes)
                if let votes { target = (1 - voteWeight) * target + voteWeight * votes[k] }
                if !teacherDistributions.isEmpty {
                    target = (1 - teacherWeight) * target + teacherWeight * teacherDistributions[image][k]
                }
                targets[row * classes + k] = target
            }
            weights[row] = classWeights[label]
        }
    }

    static func countCorrect(_ probabilities: Tensor, labels: [Int]) -> Int {
        let classes = probabilities.shape[1]
        var correct = 0
        for (row, label) in labels.enumerated() {
            var best = 0
            for k in 1..<classes where probabilities[row * classes + k] > probabilities[row * classes + best] { best = k }
            if best == label { correct += 1 }
        }
        return correct
    }
}

/// Errors that stop a training run.
public enum TrainingError: Error, CustomStringConvertible {
    case notEnoughData(count: Int, batchSize: Int)
    case invalidInputSize(reason: String)
    case invalidSetting(TrainingRecipe.Setting, expected: String, received: String)
    case settingUnused(TrainingRecipe.Setting, schedule: String, needs: String)
    case notEnoughStatisticsData(count: Int, batchSize: Int)
    case emptyValidation
    case diverged(epoch: Int, step: Int)
    /// The validation loss after `epoch` was NaN or infinite: the epoch's last updates broke the weights.
    case divergedInValidation(epoch: Int)
    case checkpointMismatch(path: String, reason: String)
    case unknownRecipe(name: String, builtIn: [String])
    case initialWeightsMismatch(path: String, expected: Architecture, found: Architecture)
    case softLabelsNeedFileNames(file: String)
    /// No training image has votes for the seven classes in the soft-label file (another dataset's file?).
    case softLabelsMatchNothing(file: String, images: Int)
    /// Every training image was voted not a face in the soft-label file: nothing is left to train on.
    case softLabelsDropEverything(file: String, images: Int)
    case teacherMismatch(path: String, expectedClasses: Int, found: Int)
    case teacherChanged(path: String, record: String)
    case teacherAnswersForOtherImages(record: String)
    case teacherCacheUnreadable(record: String, reason: String)
    case teacherInputMismatch(path: String, expected: Preprocessing, found: Preprocessing)
    case invalidDistillation(reason: String)

    public var description: String {
        switch self {
        case let .notEnoughData(count, batchSize):
            "training needs at least one full batch: \(count) images for batch size \(batchSize)"
        case let .notEnoughStatisticsData(count, batchSize):
            "re-estimating batch-norm statistics needs at least one batch of \(batchSize) faces, found \(count)"
        case let .invalidInputSize(reason):
            "the recipe's input size: \(reason)"
        case let .invalidSetting(setting, expected, received):
            "the recipe's \(setting.rawValue): expected \(expected), received \(received)"
        case let .settingUnused(setting, schedule, needs):
            "\(setting.rawValue) is given, but the learning-rate schedule is \(schedule), which does not use it (give the \(needs) schedule with it)"
        case .emptyValidation:
            "validation set is empty; expected PublicTest images or a --validation-fraction that leaves each class at least one image (each class's share is rounded)"
        case let .diverged(epoch, step):
            "loss became NaN or infinite at epoch \(epoch), step \(step); try a lower learning rate"
        case let .divergedInValidation(epoch):
            "the validation loss became NaN or infinite after epoch \(epoch) (its last updates broke the weights); try a lower learning rate"
        case let .checkpointMismatch(path, reason):
            "\(path): \(reason); use a new --out directory or the original settings"
        case let .initialWeightsMismatch(path, expected, found):
            "\(path): the initial weights are a \(found) model, but the recipe trains a \(expected); choose a model of the same architecture and input size"
        case let .softLabelsNeedFileNames(file):
            "soft labels from \(file) are matched by class folder and file name: train from the image-folder layout (train/<class>/*.png), not from fer2013.csv"
        case let .softLabelsMatchNothing(file, images):
            "none of the \(images) training images has votes for the seven emotions in \(file) (its rows name images by class folder and file name, e.g. angry/Training_10118481.png): expected the FER+ votes of this data"
        case let .softLabelsDropEverything(file, images):
            "\(file) votes every one of the \(images) training images not a face: none is left to train on"
        case let .teacherMismatch(path, expectedClasses, found):
            "\(path): the teacher predicts \(found) classes, the student \(expectedClasses); choose a teacher with the same labels"
        case let .teacherChanged(path, record):
            "\(path): the teacher's weights, views or temperature differ from those recorded in \(record) when the run began; restore the teachers the run began with or start a new run"
        case let .teacherAnswersForOtherImages(record):
            "\(record): the teachers' cached answers are for other training images than this run's (another --data, --seed or --validation-fraction); resume with the run's own settings or start a new run in another --out"
        case let .teacherCacheUnreadable(record, reason):
            "\(record): the teachers' cached answers cannot be read (\(reason)); delete the file to have them computed again from the teachers as they are now"
        case let .teacherInputMismatch(path, expected, found):
            "\(path): a teacher that answers for the augmented batch must scale pixels as the student does (\(expected)), but it reads \(found); use --teacher-input clean"
        case let .invalidDistillation(reason):
            "the recipe's distillation: \(reason)"
        case let .unknownRecipe(name, builtIn):
            "unknown recipe '\(name)': expected a built-in recipe (\(builtIn.joined(separator: ", "))), a model file or a recipe.json"
        }
    }
}
