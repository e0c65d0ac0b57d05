import Emovere
import EmovereCore
import EmovereData
import EmovereNN
import Foundation
import Testing

/// `WeightAveraging`: the mean of every parameter, one architecture only, the first file's card.
struct WeightAveragingTests {
    @Test func averageIsTheMeanOfEveryParameter() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let architecture = ModelFileTests.architecture
        var paths: [String] = []
        var states: [[String: (shape: [Int], values: [Float])]] = []
        // Snapshots of one network: its weights, and twice those weights moved a little (as by fine-tuning).
        let base = try Model(architecture: architecture, seed: 1).stateDictionary()
        for seed in [1, 2, 3] as [UInt64] {
            let model = try Model(architecture: architecture, seed: seed)
            var random = SplitMix64(seed: seed)
            try model.load(base.mapValues { entry in
                (entry.shape, entry.values.map { seed == 1 ? $0 : $0 + 0.1 * $0 * (Float(random.next() % 1000) / 500 - 1) })
            })
            var card = ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: 12),
                                 parameterCount: model.parameterCount, metrics: ["validationAccuracy": 0.5])
            card.notes = ["seed \(seed)"]
            card.temperatures = [.none: 1.5]
            card.trainingCommand = "emovere train --seed \(seed)"
            card.origin = ModelOrigin(format: "keras-hdf5", file: "seed-\(seed).hdf5")
            let path = directory.appending("seed-\(seed).safetensors")
            try ModelFile.save(model, card: card, to: path)
            paths.append(path)
            states.append(model.stateDictionary())
        }
        let (averaged, card) = try WeightAveraging.average(paths)
        var checked = 0
        for (name, entry) in averaged.stateDictionary() {
            for index in entry.values.indices {
                let mean = states.map { Double($0[name]!.values[index]) }.reduce(0, +) / 3
                #expect(abs(Double(entry.values[index]) - mean) < 1e-6, "\(name)[\(index)]")
                checked += 1
            }
        }
        #expect(checked == averaged.parameterCount)
        // The snapshots differ, so the mean differs from each of them.
        #expect(averaged.stateDictionary().values.map(\.values) != states[0].values.map(\.values))
        // Nothing that described the first snapshot alone is kept: figures, temperatures, notes, its training.
        #expect(card.metrics.isEmpty && card.evaluation == nil && card.robustness == nil && card.temperatures == nil)
        #expect(card.trainingCommand == nil && card.recipe == nil && card.origin == nil)
        #expect(card.notes.count == 1
                && card.notes[0].contains("average of 3 snapshots (\(paths[0]), \(paths[1])"), "\(card.notes)")
    }

    /// Networks trained apart (here: two random starts) hold their features in other channels, and their mean is no
    /// network: refused, naming the file and the similarity.
    @Test func unrelatedNetworksAreRefused() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let architecture = ModelFileTests.architecture
        var paths: [String] = []
        for seed in [1, 2] as [UInt64] {
            let model = try Model(architecture: architecture, seed: seed)
            let path = directory.appending("start-\(seed).safetensors")
            try ModelFile.save(model, card: ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: 12),
                                                      parameterCount: model.parameterCount), to: path)
            paths.append(path)
        }
        #expect {
            try WeightAveraging.average(paths)
        } throws: { error in
            "\(error)".contains(paths[1]) && "\(error)".contains("found weights unrelated to it (cosine similarity")
        }
    }

    @Test func differentArchitecturesNameTheFile() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        var paths: [String] = []
        for size in [12, 16] {
            let architecture = Architecture(name: "tiny-cnn", inputSize: size)
            let model = try Model(architecture: architecture)
            let path = directory.appending("size-\(size).safetensors")
            try ModelFile.save(model, card: ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: size),
                                                      parameterCount: model.parameterCount), to: path)
            paths.append(path)
        }
        #expect {
            try WeightAveraging.average(paths)
        } throws: { error in
            "\(error)".contains("size-16.safetensors") && "\(error)".contains("tiny-cnn 12x12")
        }
        #expect(throws: ModelError.self) { try WeightAveraging.average([]) }
    }

    /// Snapshots of one architecture whose faces are cropped or scaled otherwise do not average: the file is named
    /// with both preprocessings.
    @Test func differentPreprocessingNamesTheFile() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let architecture = ModelFileTests.architecture
        var paths: [String] = []
        for margin: Float in [0, 0.25] {
            let model = try Model(architecture: architecture)
            var preprocessing = Preprocessing.symmetric(inputSize: 12)
            preprocessing.faceMargin = margin
            let path = directory.appending("margin-\(margin).safetensors")
            try ModelFile.save(model, card: ModelCard(architecture: architecture, preprocessing: preprocessing,
                                                      parameterCount: model.parameterCount), to: path)
            paths.append(path)
        }
        let error = try #require(throws: ModelError.self) { try WeightAveraging.average(paths) }
        #expect(error.description.contains("margin-0.25.safetensors") && error.description.contains("expected the preprocessing of"),
                "\(error)")
    }

    /// Re-estimating statistics needs one full batch of faces; fewer is an error that says how many.
    @Test func statisticsNeedAFullBatch() throws {
        let model = try Model(architecture: ModelFileTests.architecture)
        let faces = FaceDataset(imageSize: 12, pixels: [UInt8](repeating: 90, count: 3 * 144), labels: [0, 1, 2])
        let error = try #require(throws: TrainingError.self) {
            try BatchNormStatistics.recompute(model, preprocessing: .symmetric(inputSize: 12), on: faces)
        }
        #expect(error.description.contains("needs at least one batch of 32 faces, found 3"), "\(error)")
    }

    /// Statistics come from batches that mix a class-sorted dataset (as image folders load): on 32 dark faces then 32
    /// bright ones, batches of 8 give the first batch norm nearly the variance of one batch of all 64 (in file order
    /// each batch would hold one kind and miss the difference between them).
    @Test func statisticsBatchesMixASortedDataset() throws {
        var random = SplitMix64(seed: 9)
        let pixels = (0..<64 * 144).map { index in
            UInt8((index < 32 * 144 ? 40 : 200) + random.nextFloat(in: -20...20))
        }
        let faces = FaceDataset(imageSize: 12, pixels: pixels, labels: (0..<64).map { $0 < 32 ? 0 : 1 })
        func firstVariance(batchSize: Int) throws -> [Float] {
            let model = try Model(architecture: ModelFileTests.architecture, seed: 1)
            try BatchNormStatistics.recompute(model, preprocessing: .symmetric(inputSize: 12), on: faces,
                                              batchSize: batchSize)
            let variances = model.stateDictionary().filter { $0.key.hasSuffix("moving_variance") }.values
            return try #require(variances.first { $0.shape == [8] }).values
        }
        let whole = try firstVariance(batchSize: 64)
        let mixed = try firstVariance(batchSize: 8)
        #expect(whole.allSatisfy { $0 > 0 })
        for (channel, variance) in mixed.enumerated() {
            #expect(variance > 0.5 * whole[channel], "channel \(channel): \(variance) against \(whole[channel])")
        }
    }
}
