@testable import Emovere
import EmovereCore
import EmovereData
import EmovereFiles
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
        let reports = ProgressRecorder()
        trainer.progress = reports.sink
        let state = try trainer.run()

        #expect(state.completedEpochs == 6)
        // Each epoch reports its images (8 steps of 8 from 64), with the running loss and accuracy, and finishes.
        #expect(reports.labels == (1...6).map { "epoch \($0)/6" })
        #expect(reports.totals == Array(repeating: 64, count: 6) && reports.lastCompleted == 64)
        #expect(reports.metricNames == ["loss", "acc"] && reports.finished == 6)
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
        // It names the setting that differs (not the epochs, which may grow) and the file that restores the run's own.
        #expect(error.description.contains("the checkpoint's recipe differs in learningRate 0.01 -> 0.5 (resume with --recipe \(directory.path)/recipe.json"),
                "\(error)")
    }

    /// A run that stopped early and is extended goes on with its patience counted afresh (it stopped again after one
    /// epoch), and a run cannot be cut below the epochs it has done (its recipe.json would record the shorter run).
    @Test func extendingARunThatStoppedEarlyCountsPatienceAfresh() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        var recipe = TrainerFixtures.recipe(epochs: 40)
        recipe.earlyStoppingPatience = 2
        let stopped = try TrainerFixtures.trainer(recipe: recipe, directory: directory.path).run()
        try #require(stopped.stoppedEarly && stopped.completedEpochs < 40, "\(stopped.completedEpochs) epochs")
        recipe.epochs = 60
        let extended = try TrainerFixtures.trainer(recipe: recipe, directory: directory.path).run()
        #expect(extended.completedEpochs >= stopped.completedEpochs + 2,
                "stopped after \(stopped.completedEpochs), extended to \(extended.completedEpochs)")
        recipe.epochs = extended.completedEpochs - 1
        let cut = try #require(throws: TrainingError.self) {
            try TrainerFixtures.trainer(recipe: recipe, directory: directory.path).run()
        }
        #expect(cut.description.contains("the run has done \(extended.completedEpochs) epochs, more than the \(recipe.epochs) asked for"),
                "\(cut)")
    }

    /// A run resumed on other images (another --data, or a validation split drawn otherwise) is refused; a checkpoint
    /// written before the data's checksum was kept still resumes.
    @Test func resumeRejectsOtherData() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let recipe = TrainerFixtures.recipe(epochs: 3)
        let first = try TrainerFixtures.interruptedRun(recipe: recipe, directory: directory.path)

        let training = TrainerFixtures.patternDataset(count: 64, seed: 5)
        let validation = TrainerFixtures.patternDataset(count: 24, seed: 6)
        for (otherTraining, otherValidation) in [(TrainerFixtures.patternDataset(count: 64, seed: 9), validation),
                                                 (training, TrainerFixtures.patternDataset(count: 24, seed: 9))] {
            let other = try Trainer(recipe: recipe, training: otherTraining, validation: otherValidation,
                                    directory: directory.path)
            let error = try #require(throws: TrainingError.self) { try other.run() }
            #expect(error.description.contains("\(first.checkpointPath): the checkpoint was made on other training or validation images"),
                    "\(error)")
        }

        // The same checkpoint without its data checksum, as older versions wrote it, resumes on any data.
        var file = try SafeTensorsFile(contentsOf: first.checkpointPath)
        let header = try #require(file.metadata[Checkpoint.metadataKey])
        var object = try #require(try JSONSerialization.jsonObject(with: Data(header.utf8)) as? [String: Any])
        #expect(object.removeValue(forKey: "data") != nil)
        file.metadata[Checkpoint.metadataKey] = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        try ModelFileTests.writeSigned(file, to: first.checkpointPath)
        let older = try Trainer(recipe: recipe, training: TrainerFixtures.patternDataset(count: 64, seed: 9),
                                validation: validation, directory: directory.path)
        older.log = { _ in }
        #expect(try older.run().completedEpochs == 3)
    }

    /// A checkpoint holding NaN (a weight, or an optimizer moment) behind a valid checksum is refused by name when a
    /// run resumes or the checkpoint is averaged, as a model file is on load.
    @Test(arguments: ["model.", "optimizer."])
    func nonFiniteCheckpointsAreRefused(prefix: String) throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let recipe = TrainerFixtures.recipe(epochs: 2)
        let first = try TrainerFixtures.interruptedRun(recipe: recipe, directory: directory.path)
        var file = try SafeTensorsFile(contentsOf: first.checkpointPath)
        let name = try #require(file.tensors.keys.sorted().first { $0.hasPrefix(prefix) })
        let tensor = try #require(file.tensors[name])
        var values = tensor.values
        values[values.count / 2] = .infinity
        file.tensors[name] = try NamedArray(shape: tensor.shape, values: values)
        try ModelFileTests.writeSigned(file, to: first.checkpointPath)

        let resumed = try TrainerFixtures.trainer(recipe: recipe, directory: directory.path)
        let error = try #require(throws: (any Error).self) { try resumed.run() }
        #expect("\(error)".contains(first.checkpointPath) && "\(error)".contains("inf") && "\(error)".contains("expected finite"),
                "\(error)")
        if prefix == "model." {
            let averaged = try #require(throws: (any Error).self) { try WeightAveraging.average([first.checkpointPath]) }
            #expect("\(averaged)".contains("expected finite weights"), "\(averaged)")
        }
    }

    /// A checkpoint missing one of its model tensors is refused naming the file and how its tensors are stored, when
    /// averaged or resumed (the message named neither: "model file has no tensor '1.moving_mean'").
    @Test func checkpointMissingATensorIsNamed() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let recipe = TrainerFixtures.recipe(epochs: 2)
        let first = try TrainerFixtures.interruptedRun(recipe: recipe, directory: directory.path)
        // Loaded as a model file (info, export, analyze --model), it is named for what it is.
        let notAModel = try #require(throws: ModelError.self) { try ModelFile.load(first.checkpointPath) }
        #expect(notAModel.description.contains("a training checkpoint, not a model file"), "\(notAModel)")
        var file = try SafeTensorsFile(contentsOf: first.checkpointPath)
        let name = try #require(file.tensors.keys.sorted().first { $0.hasPrefix("model.") })
        file.tensors[name] = nil
        try ModelFileTests.writeSigned(file, to: first.checkpointPath)
        let averaged = try #require(throws: (any Error).self) { try WeightAveraging.average([first.checkpointPath]) }
        let resumed = try #require(throws: (any Error).self) {
            try TrainerFixtures.trainer(recipe: recipe, directory: directory.path).run()
        }
        for error in [averaged, resumed] {
            #expect("\(error)".contains(first.checkpointPath) && "\(error)".contains("stored as model.<name>"), "\(error)")
        }
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

    /// A bfloat16 recipe sets every convolution's training precision (where this CPU runs it); its runs are
    /// deterministic for a seed, differ from float32's where bfloat16 runs (tiny-cnn's second convolution takes its
    /// input gradient in bfloat16), and still learn.
    @Test func bfloat16RecipeTrainsDeterministically() throws {
        var results: [[String: [UInt32]]] = []
        for precision: Precision? in [.bfloat16, .bfloat16, nil] {
            let directory = try TrainerScratchDirectory()
            defer { directory.remove() }
            var recipe = TrainerFixtures.recipe(epochs: 3, seed: 7)
            recipe.precision = precision
            let trainer = try TrainerFixtures.trainer(recipe: recipe, directory: directory.path)
            let convolutions = trainer.model.network.nestedLayers.compactMap { $0 as? Conv2d }
            #expect(convolutions.map(\.trainingPrecision)
                    == Array(repeating: (precision ?? .float32).supported, count: 2))
            let state = try trainer.run()
            #expect(state.bestValidationAccuracy > 0.6, "\(precision ?? .float32): \(state.history.map(\.validationAccuracy))")
            results.append(TrainerFixtures.bits(of: trainer.model))
        }
        #expect(results[0] == results[1])
        #expect((results[0] != results[2]) == Precision.isBFloat16Supported)
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
        // A class count below the data's labels (neutral is 6) failed after a whole epoch, in the confusion matrix.
        let plain = TrainerFixtures.patternDataset(count: 16, seed: 1)
        let withNeutral = FaceDataset(imageSize: plain.imageSize, pixels: plain.pixels, labels: plain.labels.map { $0 == 2 ? 2 : 6 })
        var threeClasses = recipe
        threeClasses.architecture.classCount = 3
        let uncovered = try #require(throws: TrainingError.self) {
            try Trainer(recipe: threeClasses, training: withNeutral, validation: plain, directory: "/nonexistent")
        }
        #expect(uncovered.description.contains("architecture.classCount: expected a class for every label of the data (neutral is class 6), received 3"),
                "\(uncovered)")
    }
}

/// Soft labels from crowd votes and fine-tuning from a model file.
@Suite(.serialized)
struct TrainerStartingPointTests {
    /// A pattern dataset whose images carry file names, with a votes file: image 0 is voted not a face, the
    /// others agree with their labels.
    static func votedDataset(in directory: TrainerScratchDirectory) throws -> (FaceDataset, String) {
        let plain = TrainerFixtures.patternDataset(count: 48, seed: 5)
        let names = plain.labels.indices.map { "\(Emotion(rawValue: plain.labels[$0])!.name)/Training_\($0).png" }
        let dataset = FaceDataset(imageSize: plain.imageSize, pixels: plain.pixels, labels: plain.labels, sources: names)
        var lines = ["file,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"]
        for (index, label) in plain.labels.enumerated() {
            // FER+ columns for angry (0), disgust (1), fear (2): anger, disgust, fear.
            var votes = [0, 0, 0, 0, label == 0 ? 8 : 0, label == 1 ? 8 : 0, label == 2 ? 8 : 0, 0, 2, 0]
            if index == 0 { votes = [0, 0, 0, 0, 0, 0, 0, 0, 1, 9] }
            lines.append("train/\(names[index])," + votes.map(String.init).joined(separator: ","))
        }
        let path = directory.appending("ferplus.csv")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return (dataset, path)
    }

    @Test func softLabelsLeaveOutNonFacesAndStillLearn() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let (training, votes) = try Self.votedDataset(in: directory)
        var recipe = TrainerFixtures.recipe(epochs: 4)
        recipe.softLabels = SoftLabels(file: votes, weight: 0.5)
        let trainer = try Trainer(recipe: recipe, training: training, validation: TrainerFixtures.patternDataset(count: 24, seed: 6),
                                  directory: directory.path)
        trainer.log = { _ in }
        #expect(trainer.training.count == 47)
        #expect(trainer.softLabelSummary?.contains("47 of 47 training images have votes") == true, "\(trainer.softLabelSummary ?? "")")
        let state = try trainer.run()
        #expect(state.bestValidationAccuracy > 0.6, "\(state.history.map(\.validationAccuracy))")
        let validation = TrainerFixtures.patternDataset(count: 24, seed: 6)
        let original = try String(contentsOfFile: votes, encoding: .utf8)
        let rows = original.split(separator: "\n").dropFirst()
        let header = String(original.split(separator: "\n")[0])
        func rewritten(_ text: String) throws -> Error {
            try (text + "\n").write(toFile: votes, atomically: true, encoding: .utf8)
            return try #require(throws: TrainingError.self) {
                try Trainer(recipe: recipe, training: training, validation: validation, directory: directory.appending("x"))
            }
        }
        // Votes for other images than these, and votes that leave nothing to train on, are named.
        let otherImages = ([header] + rows.map { $0.replacingOccurrences(of: "Training_", with: "PublicTest_") })
            .joined(separator: "\n")
        #expect("\(try rewritten(otherImages))".contains("none of the 48 training images has votes"))
        // Images without votes are named, the first three.
        let someMissing = ([header] + rows.enumerated().filter { ![1, 2, 3, 5].contains($0.offset) }.map { String($0.element) })
            .joined(separator: "\n")
        try (someMissing + "\n").write(toFile: votes, atomically: true, encoding: .utf8)
        let partial = try Trainer(recipe: recipe, training: training, validation: validation,
                                  directory: directory.appending("partial"))
        let names = training.sources
        #expect(partial.softLabelSummary?.contains(
            "43 of 47 training images have votes (none for \(names[1]), \(names[2]), \(names[3]) and 1 more: ") == true,
                "\(partial.softLabelSummary ?? "")")
        let noFaces = ([header] + rows.map { $0.split(separator: ",")[0] + ",0,0,0,0,0,0,0,0,0,10" }).joined(separator: "\n")
        #expect("\(try rewritten(noFaces))".contains("votes every one of the 48 training images not a face"))
        // Changed votes do not continue a run trained on the old ones.
        try original.replacingOccurrences(of: ".png,0,", with: ".png,2,")  // two neutral votes more for each image
            .write(toFile: votes, atomically: true, encoding: .utf8)
        var longer = recipe
        longer.epochs = 5
        let resumed = try Trainer(recipe: longer, training: training, validation: validation, directory: directory.path)
        resumed.log = { _ in }
        let mismatch = try #require(throws: TrainingError.self) { try resumed.run() }
        #expect(mismatch.description.contains("other soft-label votes"), "\(mismatch)")
        // Without file names there is nothing to match the votes to.
        let error = try #require(throws: TrainingError.self) {
            try Trainer(recipe: recipe, training: TrainerFixtures.patternDataset(count: 48, seed: 5),
                        validation: TrainerFixtures.patternDataset(count: 24, seed: 6), directory: directory.path)
        }
        #expect(error.description.contains("image-folder layout"), "\(error)")
    }

    /// A student whose labels are all wrong learns the classes from a teacher given all of the target (weight 1);
    /// without the teacher it learns the wrong labels. The teacher reads a student input of another size; an
    /// ensemble of teachers gives their mean.
    @Test func distillationTeachesThroughTheTeachersPredictions() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let teacher = try TrainerFixtures.trainer(recipe: TrainerFixtures.recipe(epochs: 12), directory: directory.appending("teacher"))
        try #require(try teacher.run().bestValidationAccuracy > 0.9)
        let clean = TrainerFixtures.patternDataset(count: 64, seed: 5)
        let mislabelled = FaceDataset(imageSize: clean.imageSize, pixels: clean.pixels, labels: clean.labels.map { ($0 + 1) % 3 })
        func studentAccuracy(teacherWeight: Float, input: Distillation.Input = .clean,
                             augmentation: Augmentation = .none) throws -> Double {
            var recipe = TrainerFixtures.recipe(epochs: 6, seed: 2)
            recipe.distillation = Distillation(teachers: [teacher.bestModelPath], weight: teacherWeight, input: input)
            recipe.augmentation = augmentation
            let name = "student-\(teacherWeight)-\(input)-\(augmentation == .none ? "plain" : "mirrored")"
            let student = try Trainer(recipe: recipe, training: mislabelled, validation: TrainerFixtures.patternDataset(count: 24, seed: 6),
                                      directory: directory.appending(name))
            student.log = { _ in }
            return try student.run().bestValidationAccuracy
        }
        let taught = try studentAccuracy(teacherWeight: 1)
        let untaught = try studentAccuracy(teacherWeight: 0)
        #expect(taught > 0.9, "student taught by the teacher: \(taught)")
        #expect(untaught < 0.4, "student on the wrong labels alone: \(untaught)")
        // Every training image mirrored, which swaps the bright-left and bright-right classes: a teacher answering for
        // the mirrored batch teaches the classes, one answering for the clean image teaches the swapped ones.
        let mirrored = Augmentation(horizontalFlipProbability: 1)
        let taughtOnBatches = try studentAccuracy(teacherWeight: 1, input: .augmented, augmentation: mirrored)
        let taughtOnCleanImages = try studentAccuracy(teacherWeight: 1, input: .clean, augmentation: mirrored)
        #expect(taughtOnBatches > 0.9, "student taught by the answers for its mirrored batches: \(taughtOnBatches)")
        #expect(taughtOnCleanImages < 0.5, "student taught by the answers for the clean images: \(taughtOnCleanImages)")

        // The teacher reads a 16x16 student dataset at its own 12x12; a temperature above 1 flattens its answer.
        let validation = TrainerFixtures.patternDataset(count: 24, seed: 6).resized(to: 16)
        func answers(temperature: Float) throws -> (rows: [[Float]], classes: [Int], confidence: Float) {
            let rows = try Teacher.distributions(Distillation(teachers: [teacher.bestModelPath], temperature: temperature),
                                                 for: validation, classCount: 7, cache: nil)
            return (rows, Self.predictedClasses(rows), rows.map { $0.max()! }.reduce(0, +) / Float(rows.count))
        }
        let sharp = try answers(temperature: 1)
        let flat = try answers(temperature: 3)
        #expect(sharp.classes == validation.labels)
        #expect(flat.classes == validation.labels)
        #expect(flat.confidence < sharp.confidence - 0.05, "mean confidence at temperature 3 \(flat.confidence), at 1 \(sharp.confidence)")

        // The answers are cached with what made them; a resumed run whose teacher changed stops with an error.
        let cache = directory.appending("teacher-probabilities.safetensors")
        let distillation = Distillation(teachers: [teacher.bestModelPath])
        let computed = try Teacher.distributions(distillation, for: validation, classCount: 7, cache: cache)
        #expect(Self.predictedClasses(computed) == validation.labels)
        var file = try SafeTensorsFile(contentsOf: cache)
        #expect(file.metadata["testTimeAugmentation"] == "none")
        file.tensors["probabilities"] = try NamedArray(shape: [validation.count, 7], values: Array(repeating: 0.5, count: validation.count * 7))
        try file.write(to: cache)
        #expect(try Teacher.distributions(distillation, for: validation, classCount: 7, cache: cache)
                    .allSatisfy { $0 == Array(repeating: 0.5, count: 7) })
        // Answers cached for other images of the same count (another seed's hold-out) are not paired with these.
        let others = TrainerFixtures.patternDataset(count: 24, seed: 7).resized(to: 16)
        let otherImages = try #require(throws: TrainingError.self) {
            try Teacher.distributions(distillation, for: others, classCount: 7, cache: cache)
        }
        #expect(otherImages.description.contains("cached answers are for other training images"), "\(otherImages)")
        for changed in [Distillation(teachers: [teacher.bestModelPath], temperature: 1.5),
                        Distillation(teachers: [teacher.bestModelPath], testTimeAugmentation: .flip)] {
            let error = try #require(throws: TrainingError.self) {
                try Teacher.distributions(changed, for: validation, classCount: 7, cache: cache)
            }
            #expect(error.description.contains("differ from those recorded in"), "\(error)")
        }

        // An ensemble's answer is its teachers' mean: here the teacher with the wrongly taught student.
        let wrong = directory.appending("student-0.0-clean-plain") + "/best.safetensors"
        let alone = try Teacher.distributions(Distillation(teachers: [wrong]), for: validation, classCount: 7, cache: nil)
        let ensemble = try Teacher.distributions(Distillation(teachers: [teacher.bestModelPath, wrong]), for: validation,
                                                 classCount: 7, cache: nil)
        let mean = zip(sharp.rows, alone).map { zip($0, $1).map { ($0 + $1) / 2 } }
        #expect(zip(ensemble, mean).allSatisfy { zip($0, $1).allSatisfy { abs($0 - $1) < 1e-6 } })
        #expect(zip(ensemble, sharp.rows).contains { zip($0, $1).contains { abs($0 - $1) > 0.05 } })
        // Answers cached for one teacher are not an ensemble's.
        let grown = try #require(throws: TrainingError.self) {
            try Teacher.distributions(Distillation(teachers: [teacher.bestModelPath, wrong]), for: validation,
                                      classCount: 7, cache: cache)
        }
        #expect(grown.description.contains("differ from those recorded in"), "\(grown)")
        // A cache that cannot be read is an error, not answers computed afresh from the teachers there now; with the
        // cache deleted, the checksums kept beside it still catch a teacher replaced at its path.
        let damagedCache = directory.appending("damaged-teacher-probabilities.safetensors")
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: damagedCache))
        let damaged = try #require(throws: TrainingError.self) {
            try Teacher.distributions(distillation, for: validation, classCount: 7, cache: damagedCache)
        }
        #expect(damaged.description.contains("cached answers cannot be read"), "\(damaged)")
        let recordedCache = directory.appending("recorded-teacher-probabilities.safetensors")
        let record = directory.appending("recorded-teacher-checksums.txt")
        _ = try Teacher.distributions(distillation, for: validation, classCount: 7, cache: recordedCache, record: record)
        try FileManager.default.removeItem(atPath: recordedCache)
        let replaced = try #require(throws: TrainingError.self) {
            try Teacher.distributions(Distillation(teachers: [wrong]), for: validation, classCount: 7,
                                      cache: recordedCache, record: record)
        }
        #expect(replaced.description.contains("differ from those recorded in"), "\(replaced)")

        let error = try #require(throws: TrainingError.self) {
            try Teacher.distributions(Distillation(teachers: [teacher.bestModelPath]), for: validation, classCount: 3,
                                      cache: nil)
        }
        #expect(error.description.contains("the teacher predicts 7 classes, the student 3"), "\(error)")
        // A student of three classes is refused before it trains (its model file could not hold them).
        var recipe = TrainerFixtures.recipe(epochs: 1)
        recipe.architecture = Architecture(name: "tiny-cnn", inputSize: 12, classCount: 3)
        let threeClasses = try #require(throws: TrainingError.self) {
            try TrainerFixtures.trainer(recipe: recipe, directory: directory.appending("three"))
        }
        #expect(threeClasses.description.contains("expected 7 (a model file holds the seven emotions), received 3"),
                "\(threeClasses)")

        // A run without a checkpoint starts over: answers and records left by an earlier start (here for other
        // images and other teachers) are dropped, neither reused nor in the way.
        let leftover = directory.appending("leftover")
        try FileManager.default.createDirectory(atPath: leftover, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: cache, toPath: leftover + "/teacher-probabilities.safetensors")
        try Data("not these teachers\n".utf8).write(to: URL(fileURLWithPath: leftover + "/teacher-checksums.txt"))
        var fresh = TrainerFixtures.recipe(epochs: 1)
        fresh.distillation = Distillation(teachers: [teacher.bestModelPath])
        #expect(try TrainerFixtures.trainer(recipe: fresh, directory: leftover).run().completedEpochs == 1)
        // The record now holds this run's teacher (clean input keeps one too, for resumes whose cache is deleted).
        #expect(try String(contentsOfFile: leftover + "/teacher-checksums.txt", encoding: .utf8)
                == ModelFile.weightsDigest(atPath: teacher.bestModelPath) + "\n")
    }

    /// Teachers that answer each batch (`.augmented` input) mix their mean answer for exactly the batch given into
    /// each target row, at the distillation's temperature (`p^(1/T)` renormalised is `softmax(z / T)`), reading a
    /// batch of another size resampled; a teacher that scales pixels otherwise, a teacher changed since the run began
    /// and views asked for augmented input are refused.
    @Test func batchTeachersMixTheirAnswerForTheGivenBatch() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let paths = try TrainerFixtures.trainedModels(seeds: [1, 2], epochs: 6, in: directory)
        let preprocessing = TrainerFixtures.recipe(epochs: 1).preprocessing
        var random = SplitMix64(seed: 11)
        let input = Tensor(shape: [5, 12, 12, 1], values: (0..<720).map { _ in random.nextFloat(in: -1...1) })
        let labels = Tensor(shape: [5, 7], values: (0..<35).map { $0 % 8 == 0 ? 1 : 0 })
        let logits = try paths.map { try ModelFile.load($0).model.logits(input, mode: .inference).values }
        for temperature: Float in [1, 2] {
            let distillation = Distillation(teachers: paths, weight: 0.25, temperature: temperature, input: .augmented)
            let targets = labels.copy()
            try BatchTeachers(distillation, preprocessing: preprocessing, classCount: 7).mix(into: targets, for: input)
            for row in 0..<5 {
                var expected = [Float](repeating: 0, count: 7)
                for teacher in logits {
                    let z = (0..<7).map { teacher[row * 7 + $0] / temperature }
                    let exponentials = z.map { expf($0 - z.max()!) }
                    for k in 0..<7 { expected[k] += exponentials[k] / exponentials.reduce(0, +) / 2 }
                }
                for k in 0..<7 {
                    let mixed = 0.75 * labels[row * 7 + k] + 0.25 * expected[k]
                    #expect(abs(targets[row * 7 + k] - mixed) < 1e-5, "T \(temperature) row \(row) class \(k)")
                }
            }
        }
        // A 16x16 student batch reaches the 12x12 teachers resampled, as the clean images would be resized.
        let images = TrainerFixtures.patternDataset(count: 6, seed: 8).resized(to: 16)
        let large = Tensor(shape: [6, 16, 16, 1])
        let small = Tensor(shape: [6, 12, 12, 1])
        InputBatch(preprocessing: .symmetric(inputSize: 16)).fill(large, from: images, indices: 0..<6, view: .original)
        InputBatch(preprocessing: preprocessing).fill(small, from: images.resized(to: 12), indices: 0..<6, view: .original)
        let distillation = Distillation(teachers: [paths[0]], weight: 1, input: .augmented)
        let resampled = Tensor(shape: [6, 7], repeating: 0)
        try BatchTeachers(distillation, preprocessing: .symmetric(inputSize: 16), classCount: 7).mix(into: resampled, for: large)
        let teacher = try ModelFile.load(paths[0]).model.inferenceModel()
        let direct = teacher.probabilities(small).values
        #expect(zip(resampled.values, direct).allSatisfy { abs($0 - $1) < 0.01 }, "\(resampled.values) against \(direct)")
        // The control: the same faces mirrored (bright left and right swapped) get clearly other answers.
        InputBatch(preprocessing: preprocessing).fill(small, from: images.resized(to: 12), indices: 0..<6, view: .mirrored)
        let mirrored = teacher.probabilities(small).values
        #expect(zip(resampled.values, mirrored).contains { abs($0 - $1) > 0.2 }, "\(resampled.values) against \(mirrored)")
        // The teachers' checksums are recorded by the run's first start; a resume with other teachers is refused.
        let record = directory.appending("teacher-checksums.txt")
        _ = try BatchTeachers(distillation, preprocessing: preprocessing, classCount: 7, record: record)
        _ = try BatchTeachers(distillation, preprocessing: preprocessing, classCount: 7, record: record)
        let changed = try #require(throws: TrainingError.self) {
            try BatchTeachers(Distillation(teachers: [paths[1]], input: .augmented), preprocessing: preprocessing,
                              classCount: 7, record: record)
        }
        #expect(changed.description.contains("differ from those recorded in \(record)"), "\(changed)")
        // Views apply to clean input only: a recipe asking for both is refused.
        let views = try #require(throws: TrainingError.self) {
            try BatchTeachers(Distillation(teachers: paths, testTimeAugmentation: .flip, input: .augmented),
                              preprocessing: preprocessing, classCount: 7)
        }
        #expect(views.description.contains("testTimeAugmentation applies to clean input"), "\(views)")
        // A teacher that scales pixels otherwise is refused.
        let error = try #require(throws: TrainingError.self) {
            try BatchTeachers(Distillation(teachers: paths, input: .augmented),
                              preprocessing: Preprocessing(inputSize: 12, scale: 1 / 255, offset: 0), classCount: 7)
        }
        #expect(error.description.contains("must scale pixels as the student does"), "\(error)")
    }

    static func predictedClasses(_ rows: [[Float]]) -> [Int] {
        rows.map { row in row.indices.max { row[$0] < row[$1] }! }
    }

    @Test func initialWeightsStartTheRunAndMustMatchTheArchitecture() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let first = try TrainerFixtures.trainer(recipe: TrainerFixtures.recipe(epochs: 2), directory: directory.appending("first"))
        try first.run()
        var recipe = TrainerFixtures.recipe(epochs: 1, seed: 9)
        recipe.initialWeights = first.bestModelPath
        let second = try TrainerFixtures.trainer(recipe: recipe, directory: directory.appending("second"))
        let (best, _) = try ModelFile.load(first.bestModelPath)
        #expect(TrainerFixtures.bits(of: second.model) == TrainerFixtures.bits(of: best))
        recipe.architecture = Architecture(name: "tiny-cnn", inputSize: 16)
        recipe.preprocessing = .symmetric(inputSize: 16)
        let error = try #require(throws: TrainingError.self) {
            try Trainer(recipe: recipe, training: FaceDataset(imageSize: 16, pixels: [UInt8](repeating: 0, count: 16 * 256), labels: Array(repeating: 0, count: 16)),
                        validation: FaceDataset(imageSize: 16, pixels: [UInt8](repeating: 0, count: 256), labels: [0]), directory: directory.path)
        }
        #expect(error.description.contains("initial weights are a tiny-cnn 12x12"), "\(error)")
    }

    /// A soup recipe starts from the mean of its files; with `recomputesBatchNormStatistics` the saved model carries
    /// statistics re-estimated on the clean training faces (recomputing them again changes nothing), not the running
    /// average of training.
    @Test func soupStartAndRecomputedStatistics() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        // Two snapshots of one network: a model and a model fine-tuned from it.
        let base = try TrainerFixtures.trainedModels(seeds: [1], epochs: 1, in: directory)[0]
        var tuning = TrainerFixtures.recipe(epochs: 1, seed: 2)
        tuning.initialWeights = base
        let tuned = try TrainerFixtures.trainer(recipe: tuning, directory: directory.appending("seed-2"))
        try tuned.run()
        let paths = [base, tuned.bestModelPath]
        var recipe = TrainerFixtures.recipe(epochs: 1, seed: 3)
        recipe.initialWeights = paths[0]
        recipe.averagedWeights = [paths[1]]
        let soup = try TrainerFixtures.trainer(recipe: recipe, directory: directory.appending("soup"))
        #expect(TrainerFixtures.bits(of: soup.model) == TrainerFixtures.bits(of: try WeightAveraging.average(paths).model))

        recipe.recomputesBatchNormStatistics = true
        let recomputing = try TrainerFixtures.trainer(recipe: recipe, directory: directory.appending("recomputing"))
        try recomputing.run()
        let (saved, _) = try ModelFile.load(recomputing.bestModelPath)
        let again = try ModelFile.load(recomputing.bestModelPath).model
        try BatchNormStatistics.recompute(again, preprocessing: recipe.preprocessing, on: recomputing.training,
                                          batchSize: recipe.batchSize)
        let statistics = { (model: Model) in TrainerFixtures.bits(of: model).filter { $0.key.contains("moving") } }
        #expect(!statistics(saved).isEmpty && statistics(again) == statistics(saved))
        try soup.run()
        #expect(TrainerFixtures.bits(of: soup.model).filter { !$0.key.contains("moving") }
                == TrainerFixtures.bits(of: recomputing.model).filter { !$0.key.contains("moving") })
        #expect(statistics(soup.model) != statistics(recomputing.model))
    }

    /// With `averagedFinalEpochs`, a run keeps the models of its last epochs (across an interruption) and ends with
    /// their mean: each weight the mean of the epochs' weights, statistics re-estimated, validated, its card the
    /// recipe's. Resuming the finished run writes it again only when it is missing.
    @Test func averagedFinalEpochsEndTheRunWithTheirMean() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        var recipe = TrainerFixtures.recipe(epochs: 4)
        recipe.averagedFinalEpochs = 2
        let interrupted = try TrainerFixtures.trainer(recipe: recipe, directory: directory.path)
        interrupted.epochLimit = 3
        try interrupted.run()
        let averagedPath = Trainer.averagedModelPath(in: directory.path)
        #expect(!FileManager.default.fileExists(atPath: averagedPath))

        // A checkpoint half written when the run was killed (by a process that is gone) is removed on resume.
        let halfWritten = directory.appending(".checkpoint.safetensors.tmp-999999999-5e")
        try Data("half".utf8).write(to: URL(fileURLWithPath: halfWritten))
        let resumed = try TrainerFixtures.trainer(recipe: recipe, directory: directory.path)
        var messages: [String] = []
        resumed.log = { messages.append($0) }
        try resumed.run()
        #expect(!FileManager.default.fileExists(atPath: halfWritten))
        #expect(messages.contains { $0.hasPrefix("removed ") && $0.contains("left half written") }, "\(messages)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: directory.appending("final-epochs")).sorted()
        #expect(kept == ["003.card.json", "003.safetensors", "004.card.json", "004.safetensors"])
        let epochs = try [3, 4].map { try ModelFile.load(directory.appending("final-epochs/00\($0).safetensors")).model }
        let (averaged, card) = try ModelFile.load(averagedPath)
        let weights = TrainerFixtures.bits(of: averaged).filter { !$0.key.contains("moving") }
        #expect(!weights.isEmpty && weights != TrainerFixtures.bits(of: resumed.model).filter { !$0.key.contains("moving") })
        let third = epochs[0].stateDictionary(), fourth = epochs[1].stateDictionary()
        for (name, entry) in averaged.stateDictionary() where !name.contains("moving") {
            let mean = zip(third[name]!.values, fourth[name]!.values).map { Float((Double($0) + Double($1)) / 2) }
            #expect(entry.values == mean, "\(name)")
        }
        let again = try ModelFile.load(averagedPath).model
        try BatchNormStatistics.recompute(again, preprocessing: recipe.preprocessing, on: resumed.training,
                                          batchSize: recipe.batchSize)
        #expect(TrainerFixtures.bits(of: again) == TrainerFixtures.bits(of: averaged))
        let evaluation = try Evaluator(model: averaged, preprocessing: recipe.preprocessing).evaluate(resumed.validation)
        #expect(card.recipe == recipe && card.metrics["validationAccuracy"] == evaluation.accuracy)
        #expect(card.notes.first == "weights: the mean of epochs 3-4's models", "\(card.notes)")
        #expect(messages.last?.hasPrefix("averaged epochs 3-4") == true, "\(messages)")

        var quiet: [String] = []
        let finished = try TrainerFixtures.trainer(recipe: recipe, directory: directory.path)
        finished.log = { quiet.append($0) }
        try finished.run()
        #expect(!quiet.contains { $0.hasPrefix("averaged") }, "\(quiet)")
        // A run stopped between its last checkpoint and its log, or between its mean and the mean's card, finishes
        // both when resumed.
        let log = Trainer.logPath(in: directory.path)
        let rows = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 5)
        try (rows.dropLast().joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: ModelFile.cardPath(for: averagedPath))
        try TrainerFixtures.trainer(recipe: recipe, directory: directory.path).run()
        #expect(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n") == rows)
        #expect(FileManager.default.fileExists(atPath: ModelFile.cardPath(for: averagedPath)))
        try FileManager.default.removeItem(atPath: averagedPath)
        try TrainerFixtures.trainer(recipe: recipe, directory: directory.path).run()
        #expect(TrainerFixtures.bits(of: try ModelFile.load(averagedPath).model) == TrainerFixtures.bits(of: averaged))

        // Extended, the run's earlier mean goes as soon as it goes on (even if stopped before its new end) ...
        var longer = recipe
        longer.epochs = 5
        let stopped = try TrainerFixtures.trainer(recipe: longer, directory: directory.path)
        stopped.epochLimit = 0
        try stopped.run()
        #expect(!FileManager.default.fileExists(atPath: averagedPath))
        try TrainerFixtures.trainer(recipe: longer, directory: directory.path).run()
        #expect(try ModelFile.load(averagedPath).card.notes.first == "weights: the mean of epochs 4-5's models")
        // ... and a new run in the folder (its checkpoint removed) starts without the old run's epochs and mean.
        try FileManager.default.removeItem(atPath: Trainer.checkpointPath(in: directory.path))
        try TrainerFixtures.trainer(recipe: TrainerFixtures.recipe(epochs: 1), directory: directory.path).run()
        #expect(!FileManager.default.fileExists(atPath: averagedPath))
        #expect(!FileManager.default.fileExists(atPath: directory.appending("final-epochs")))
    }
}

/// A `ProgressSink` for tests: what the work reported, in order.
final class ProgressRecorder {
    var labels: [String] = []
    var totals: [Int] = []
    var lastCompleted = 0
    var metricNames: [String] = []
    var finished = 0

    final class Sink: ProgressSink {
        let recorder: ProgressRecorder
        init(_ recorder: ProgressRecorder) { self.recorder = recorder }
        func update(completed: Int, metrics: [(String, Double)]) {
            recorder.lastCompleted = completed
            recorder.metricNames = metrics.map(\.0)
        }
        func finish(metrics: [(String, Double)]) { recorder.finished += 1 }
    }

    /// A factory recording each piece of work's label and total.
    var sink: ProgressSinkFactory {
        { total, label in
            self.labels.append(label)
            self.totals.append(total)
            return Sink(self)
        }
    }
}
