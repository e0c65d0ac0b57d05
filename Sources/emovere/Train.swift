import ArgumentParser
import Emovere
import EmovereData
import EmovereNN
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an emotion model on FER2013 (CSV or image folders).",
        discussion: """
            Validates every epoch on PublicTest (or on --validation-fraction of Training), writes \
            log.csv, best.safetensors (+ .card.json) and an atomic checkpoint.safetensors to --out after \
            every epoch. Re-run with --resume to continue an interrupted run.
            """)

    @Option(help: "FER2013 data: fer2013.csv or a folder with train/ and test/ class folders.")
    var data: String

    @Option(help: "Architecture: \(Architecture.knownNames.joined(separator: ", ")).")
    var model = "mini-xception"

    @Option(help: "Input size in pixels (48 or 64).")
    var inputSize = 48

    @Option(help: "Number of epochs.")
    var epochs = 100

    @Option(help: "Images per training batch.")
    var batchSize = 32

    @Option(help: "Random seed: same seed and data give the same weights.")
    var seed: UInt64 = 1

    @Option(help: "Output directory for the log, checkpoint and best model.")
    var out: String

    @Option(help: "Optimizer: adam or sgd (SGD with Nesterov momentum 0.9).")
    var optimizer: OptimizerName = .adam

    @Option(help: "Base learning rate.")
    var learningRate: Float = 1e-3

    @Option(help: "L2 weight decay on kernels.")
    var weightDecay: Float = 1e-4

    @Option(help: "Learning-rate schedule: plateau, cosine, one-cycle or constant.")
    var schedule: ScheduleName = .plateau

    @Option(help: "Plateau schedule: epochs without improvement before the rate is divided by 10.")
    var plateauPatience = 8

    @Option(help: "Warm-up epochs for the cosine schedule.")
    var warmupEpochs = 3

    @Option(help: "Label smoothing (0 disables).")
    var labelSmoothing: Float = 0

    @Flag(help: "Weight classes inversely to their frequency.")
    var balanceClasses = false

    @Option(help: "Mixup alpha (0 disables).")
    var mixup: Float = 0

    @Option(help: "Augmentation: standard (flip, rotation, shift, zoom, random erasing), classic (the same without erasing) or none.")
    var augmentation: AugmentationName = .standard

    @Option(help: "Stop after this many epochs without validation improvement (0 never stops early).")
    var earlyStopping = 30

    @Option(help: "Validate on this fraction of Training instead of PublicTest (e.g. 0.1).")
    var validationFraction: Double?

    @Flag(help: "Continue the run whose checkpoint is in --out.")
    var resume = false

    @Flag(help: "Treat malformed data rows or files as fatal errors.")
    var strict = false

    func validate() throws {
        guard Architecture.knownNames.contains(model) else {
            throw ValidationError("unknown --model '\(model)'; expected one of \(Architecture.knownNames.joined(separator: ", "))")
        }
        guard [48, 64].contains(inputSize) else { throw ValidationError("--input-size must be 48 or 64, received \(inputSize)") }
        guard epochs > 0 else { throw ValidationError("--epochs must be positive, received \(epochs)") }
        guard batchSize > 1 else { throw ValidationError("--batch-size must be at least 2, received \(batchSize)") }
        guard learningRate > 0 else { throw ValidationError("--learning-rate must be positive, received \(learningRate)") }
        guard (0..<1).contains(labelSmoothing) else { throw ValidationError("--label-smoothing must be in [0, 1), received \(labelSmoothing)") }
        if let fraction = validationFraction, !(fraction > 0 && fraction < 1) {
            throw ValidationError("--validation-fraction must be between 0 and 1, received \(fraction)")
        }
    }

    var recipe: TrainingRecipe {
        let schedule: LearningRateSchedule = switch self.schedule {
        case .plateau: .reduceOnPlateau(factor: 0.1, patience: plateauPatience, minimum: 1e-6)
        case .cosine: .cosine(warmupEpochs: warmupEpochs, minimum: 0)
        case .oneCycle: .oneCycle(warmupFraction: 0.3)
        case .constant: .constant
        }
        return TrainingRecipe(
            architecture: Architecture(name: model, inputSize: inputSize),
            epochs: epochs, batchSize: batchSize,
            optimizer: optimizer == .adam ? .adam() : .sgd(momentum: 0.9, nesterov: true),
            learningRate: learningRate, weightDecay: weightDecay, schedule: schedule, labelSmoothing: labelSmoothing,
            balancesClasses: balanceClasses, mixupAlpha: mixup,
            augmentation: augmentation.value,
            earlyStoppingPatience: earlyStopping > 0 ? earlyStopping : nil, validationHoldOut: validationFraction,
            seed: seed)
    }

    func run() throws {
        let checkpoint = out + "/checkpoint.safetensors"
        if FileManager.default.fileExists(atPath: checkpoint) && !resume {
            throw ValidationError("\(out) already holds a checkpoint; pass --resume to continue it or choose another --out")
        }
        if resume && !FileManager.default.fileExists(atPath: checkpoint) {
            throw ValidationError("--resume: no checkpoint at \(checkpoint)")
        }
        let recipe = recipe
        let (training, validation) = try CommandSupport.loadTrainingData(
            path: data, recipe: recipe, strict: strict)
        print("training on \(training.count) images, validating on \(validation.count) (\(recipe.validationHoldOut.map { "\(Int($0 * 100))% of Training" } ?? "PublicTest"))")
        let trainer = try Trainer(recipe: recipe, training: training, validation: validation, directory: out)
        trainer.trainingCommand = CommandLine.arguments.joined(separator: " ")
        trainer.log = { line in
            print(line)
            fflush(nil)  // each epoch's line reaches a redirected log file as it happens
        }
        print("\(recipe.architecture): \(trainer.model.parameterCount) parameters")
        let state = try trainer.run()
        print(String(format: "done: %d epochs, best validation accuracy %.4f at epoch %d -> %@",
                     state.completedEpochs, state.bestValidationAccuracy, state.bestEpoch, trainer.bestModelPath))
    }
}

enum OptimizerName: String, ExpressibleByArgument, CaseIterable { case adam, sgd }
enum ScheduleName: String, ExpressibleByArgument, CaseIterable {
    case plateau, cosine, oneCycle = "one-cycle", constant
}
enum AugmentationName: String, ExpressibleByArgument, CaseIterable {
    case standard, classic, none

    var value: Augmentation {
        switch self {
        case .standard: .standard
        case .classic: .classic
        case .none: .none
        }
    }
}
