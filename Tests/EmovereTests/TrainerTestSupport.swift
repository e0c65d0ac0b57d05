import Emovere
import EmovereCore
import EmovereData
import EmovereNN
import EmovereReport
import EmovereTensor
import Foundation

/// A uniquely named folder under the system temporary directory for one trainer test; `remove()` deletes it.
struct TrainerScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("emovere-trainer-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// `path/name`.
    func appending(_ name: String) -> String { path + "/" + name }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Small generated datasets and recipes that train in a second or two in a debug build.
enum TrainerFixtures {
    /// The side length of the generated images and of the tiny model's input.
    static let imageSize = 12

    /// `count` images of three classes that differ by a pattern, with seeded noise:
    /// angry (0) has a bright left half, disgust (1) a bright right half, fear (2) is dark all over.
    static func patternDataset(count: Int, seed: UInt64) -> FaceDataset {
        var random = SplitMix64(seed: seed)
        var pixels: [UInt8] = []
        var labels: [Int] = []
        for index in 0..<count {
            let label = index % 3
            for _ in 0..<imageSize {
                for x in 0..<imageSize {
                    let bright = (label == 0 && x < imageSize / 2) || (label == 1 && x >= imageSize / 2)
                    let base: Float = bright ? 200 : 40
                    let noisy = base + random.nextFloat(in: -30...30)
                    pixels.append(UInt8(min(max(noisy, 0), 255)))
                }
            }
            labels.append(label)
        }
        return FaceDataset(imageSize: imageSize, pixels: pixels, labels: labels)
    }

    /// A tiny-cnn recipe without augmentation, decay or schedule, so a few epochs fit the patterns.
    static func recipe(epochs: Int, seed: UInt64 = 1, optimizer: OptimizerRule = .adam()) -> TrainingRecipe {
        TrainingRecipe(
            architecture: Architecture(name: "tiny-cnn", inputSize: imageSize), epochs: epochs, batchSize: 8,
            optimizer: optimizer, learningRate: 1e-2, weightDecay: 0, schedule: .constant,
            augmentation: .none, earlyStoppingPatience: nil, seed: seed)
    }

    /// A quiet trainer on the pattern datasets, writing to `directory`.
    static func trainer(recipe: TrainingRecipe, directory: String) throws -> Trainer {
        let trainer = try Trainer(recipe: recipe, training: patternDataset(count: 64, seed: 5),
                                  validation: patternDataset(count: 24, seed: 6), directory: directory)
        trainer.epochFinished = TrainingCurves.writer(directory: directory, title: "test")
        trainer.log = { _ in }
        return trainer
    }

    /// A run of `recipe` in `directory` stopped after its first epoch (its checkpoint written), as an interruption
    /// leaves it.
    @discardableResult
    static func interruptedRun(recipe: TrainingRecipe, directory: String) throws -> Trainer {
        let trainer = try trainer(recipe: recipe, directory: directory)
        trainer.epochLimit = 1
        try trainer.run()
        return trainer
    }

    /// The best models of runs of `epochs` epochs, one per seed, each trained in `directory/seed-<seed>`.
    static func trainedModels(seeds: [UInt64], epochs: Int, in directory: TrainerScratchDirectory) throws -> [String] {
        try seeds.map { seed in
            let run = try trainer(recipe: recipe(epochs: epochs, seed: seed), directory: directory.appending("seed-\(seed)"))
            try run.run()
            return run.bestModelPath
        }
    }

    /// Every parameter's values as bit patterns, by name: equal only when bit-identical.
    static func bits(of model: Model) -> [String: [UInt32]] {
        model.stateDictionary().mapValues { $0.values.map(\.bitPattern) }
    }
}
