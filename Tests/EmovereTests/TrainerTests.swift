import Emovere
import EmovereData
import EmovereNN
import EmovereTensor
import Foundation
import Testing

/// End-to-end training on generated data: learning, interruption and resume, reproducibility.
/// Each test trains tiny-cnn on 12x12 images for a few epochs (seconds in a debug build).
@Suite(.serialized)
struct TrainerTests {
    /// Three visually distinct classes are learned to high training accuracy within a few epochs.
    @Test func tinyModelFitsASeparableDataset() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let trainer = try TrainerFixtures.trainer(recipe: TrainerFixtures.recipe(epochs: 6), directory: directory.path)
        let state = try trainer.run()

        #expect(state.completedEpochs == 6)
        let history = state.history
        let first = try #require(history.first)
        let last = try #require(history.last)
        #expect(last.trainingLoss < first.trainingLoss, "loss \(history.map(\.trainingLoss))")
        #expect(last.trainingAccuracy >= 0.9, "training accuracy \(history.map(\.trainingAccuracy))")
        #expect(state.bestValidationAccuracy > 0.6, "validation accuracy \(history.map(\.validationAccuracy))")
        for file in [trainer.checkpointPath, trainer.bestModelPath, trainer.logPath, directory.appending("recipe.json"),
                     ModelFile.cardPath(for: trainer.bestModelPath)] {
            #expect(FileManager.default.fileExists(atPath: file), "\(file) missing")
        }
    }

    /// A run interrupted after k epochs and resumed by a new `Trainer` ends bit-identical to an
    /// uninterrupted run, with one log row per epoch.
    @Test(arguments: [OptimizerRule.adam(), .sgd(momentum: 0.9, nesterov: true)])
    func resumedRunMatchesUninterruptedRun(optimizer: OptimizerRule) throws {
        let epochs = 3
        let recipe = TrainerFixtures.recipe(epochs: epochs, optimizer: optimizer)
        let uninterrupted = try TrainerScratchDirectory()
        let interrupted = try TrainerScratchDirectory()
        defer {
            uninterrupted.remove()
            interrupted.remove()
        }
        let reference = try TrainerFixtures.trainer(recipe: recipe, directory: uninterrupted.path)
        try reference.run()

        let first = try TrainerFixtures.trainer(recipe: recipe, directory: interrupted.path)
        first.epochLimit = 1
        let partial = try first.run()
        #expect(partial.completedEpochs == 1)

        let second = try TrainerFixtures.trainer(recipe: recipe, directory: interrupted.path)
        var messages: [String] = []
        second.log = { messages.append($0) }
        let final = try second.run()

        #expect(final.completedEpochs == epochs)
        #expect(messages.first?.hasPrefix("resumed from") == true, "\(messages)")
        #expect(TrainerFixtures.bits(of: second.model) == TrainerFixtures.bits(of: reference.model))
        #expect(final.optimizerStep == reference.state.optimizerStep)
        #expect(final.history.map(\.trainingLoss) == reference.state.history.map(\.trainingLoss))
        #expect(final.history.map(\.validationAccuracy) == reference.state.history.map(\.validationAccuracy))

        let log = try String(contentsOfFile: second.logPath, encoding: .utf8)
        let rows = log.split(separator: "\n")
        #expect(rows.first.map(String.init) == EpochRecord.csvHeader)
        #expect(rows.count == epochs + 1, "log.csv:\n\(log)")

        let curves = try String(contentsOfFile: interrupted.path + "/curves.svg", encoding: .utf8)
        #expect(curves.hasPrefix("<svg"))
        #expect(curves.components(separatedBy: "<polyline").count == 5, "two series in each of two panels")
    }

    /// A finished run continues when asked for more epochs, and refuses a different recipe.
    @Test func resumeExtendsTheRunAndRejectsAChangedRecipe() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        try TrainerFixtures.trainer(recipe: TrainerFixtures.recipe(epochs: 1), directory: directory.path).run()

        let extended = try TrainerFixtures.trainer(recipe: TrainerFixtures.recipe(epochs: 2), directory: directory.path)
        #expect(try extended.run().completedEpochs == 2)

        var changed = TrainerFixtures.recipe(epochs: 2)
        changed.learningRate = 0.5
        let mismatched = try TrainerFixtures.trainer(recipe: changed, directory: directory.path)
        let error = try #require(throws: TrainingError.self) { try mismatched.run() }
        #expect(error.description.contains("different recipe"), "\(error)")
        #expect(error.description.contains(directory.path), "\(error)")
    }

    /// The same seed gives bit-identical weights; another seed gives different ones.
    @Test func seedDeterminesTheWeights() throws {
        var results: [[String: [UInt32]]] = []
        for seed: UInt64 in [7, 7, 8] {
            let directory = try TrainerScratchDirectory()
            defer { directory.remove() }
            let trainer = try TrainerFixtures.trainer(recipe: TrainerFixtures.recipe(epochs: 1, seed: seed),
                                                      directory: directory.path)
            try trainer.run()
            results.append(TrainerFixtures.bits(of: trainer.model))
        }
        #expect(results[0] == results[1])
        #expect(results[0] != results[2])
        // Initial weights alone already depend on the seed.
        let architecture = Architecture(name: "tiny-cnn", inputSize: TrainerFixtures.imageSize)
        #expect(TrainerFixtures.bits(of: try Model(architecture: architecture, seed: 1))
                == TrainerFixtures.bits(of: try Model(architecture: architecture, seed: 1)))
        #expect(TrainerFixtures.bits(of: try Model(architecture: architecture, seed: 1))
                != TrainerFixtures.bits(of: try Model(architecture: architecture, seed: 2)))
    }

    @Test func trainerRejectsTooLittleData() throws {
        let recipe = TrainerFixtures.recipe(epochs: 1)
        let tiny = TrainerFixtures.patternDataset(count: 4, seed: 1)
        #expect(throws: TrainingError.self) {
            try Trainer(recipe: recipe, training: tiny, validation: tiny, directory: "/nonexistent")
        }
        let empty = FaceDataset(imageSize: TrainerFixtures.imageSize)
        let error = try #require(throws: TrainingError.self) {
            try Trainer(recipe: recipe, training: TrainerFixtures.patternDataset(count: 16, seed: 1), validation: empty,
                        directory: "/nonexistent")
        }
        #expect(error.description.contains("validation"))
    }
}
