import Emovere
import EmovereData
import EmovereFiles
import EmovereNN
import EmovereTensor
import EmovereTestSupport
import Foundation
import Testing

/// `ModelFile` save/load round trips and the errors that damaged or foreign files give.
struct ModelFileTests {
    static let architecture = Architecture(name: "tiny-cnn", inputSize: 12)

    /// A saved model with its card, in a fresh scratch directory.
    static func savedModel() throws -> (model: Model, card: ModelCard, path: String, directory: TrainerScratchDirectory) {
        let directory = try TrainerScratchDirectory()
        let model = try Model(architecture: architecture, seed: 3)
        var card = ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: 12),
                             parameterCount: model.parameterCount, metrics: ["validationAccuracy": 0.5])
        card.notes = ["round-trip test"]
        let path = directory.appending("model.safetensors")
        try ModelFile.save(model, card: card, to: path)
        card.multiplyAddsPerFace = model.multiplyAddsPerFace  // what `save` records
        return (model, card, path, directory)
    }

    /// Writes `file` to `path` with a fresh checksum, as a tool that edits model files on purpose would, so the
    /// checks after the checksum are reached.
    static func writeSigned(_ file: SafeTensorsFile, to path: String) throws {
        var file = file
        file.metadata[ModelFile.checksumKey] = try ModelFile.checksum(of: file)
        try file.write(to: path)
    }

    /// Rewrites the card stored in `path` with `change` applied (and the checksum updated).
    static func rewriteCard(at path: String, _ change: (inout ModelCard) -> Void) throws {
        var file = try SafeTensorsFile(contentsOf: path)
        let json = try #require(file.metadata[ModelFile.cardKey])
        var card = try JSONDecoder().decode(ModelCard.self, from: Data(json.utf8))
        change(&card)
        file.metadata[ModelFile.cardKey] = String(decoding: try JSONEncoder().encode(card), as: UTF8.self)
        try Self.writeSigned(file, to: path)
    }

    @Test func roundTripKeepsWeightsCardAndPredictions() throws {
        let (model, card, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        let (loaded, loadedCard) = try ModelFile.load(path)
        #expect(loadedCard == card)
        // Convolutions 12x12x9x8 and 6x6x9x8x16, dense 16x7.
        #expect(loadedCard.multiplyAddsPerFace == 51_952)
        #expect(TrainerFixtures.bits(of: loaded) == TrainerFixtures.bits(of: model))
        let input = Tensor(shape: [3, 12, 12, 1], values: randomValues(3 * 144, seed: 9))
        #expect(loaded.probabilities(input).values == model.probabilities(input).values)
        // The JSON card beside the model file decodes to the same card.
        let json = try Data(contentsOf: URL(fileURLWithPath: ModelFile.cardPath(for: path)))
        #expect(try JSONDecoder().decode(ModelCard.self, from: json) == card)
    }

    /// A model file that is a symbolic link (`current.safetensors` -> a run's best) is rewritten through it, with the
    /// card beside the file it names: `evaluate --record` left a new card beside the link and the real one stale.
    /// A card `load` would refuse is not written: a network of three classes under the seven labels (the file was
    /// written, and its own loader refused it).
    @Test func inconsistentCardsAreNotWritten() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let architecture = Architecture(name: "tiny-cnn", inputSize: 12, classCount: 3)
        let model = try Model(architecture: architecture, seed: 4)
        let card = ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: 12),
                             parameterCount: model.parameterCount)
        let path = directory.appending("three.safetensors")
        #expect(throws: ModelError.invalidModelFile(
            path: path, reason: "not written: its card is inconsistent (architecture.classCount is 3; expected 7, one per label)")) {
            try ModelFile.save(model, card: card, to: path)
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func saveThroughALinkKeepsTheCardBesideTheFile() throws {
        let (model, card, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        let link = directory.appending("current.safetensors")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "model.safetensors")
        var edited = card
        edited.notes = ["recorded through the link"]
        try ModelFile.save(model, card: edited, to: link)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "model.safetensors")
        #expect(!FileManager.default.fileExists(atPath: ModelFile.cardPath(for: link)))
        let json = try Data(contentsOf: URL(fileURLWithPath: ModelFile.cardPath(for: path)))
        #expect(try JSONDecoder().decode(ModelCard.self, from: json).notes == ["recorded through the link"])
        #expect(try ModelFile.load(path).1.notes == ["recorded through the link"])
    }

    /// Cards whose numbers are out of range or disagree with the network are refused when loaded, naming the
    /// file and the field (they used to crash `analyze`, `serve` and `info` or silently change the results).
    /// Damage done to a card, and the field the error must name.
    enum CardDamage: CaseIterable {
        case preprocessingSize, hugeInput, noClasses, hugeMargin, negativeMargin, zeroScale, hugeScale, hugeOffset
        case negativeTemperature, unknownName

        var field: String {
            switch self {
            case .preprocessingSize: "preprocessing.inputSize"
            case .hugeInput: "architecture.inputSize"
            case .noClasses: "architecture.classCount"
            case .hugeMargin, .negativeMargin: "faceMargin"
            case .zeroScale, .hugeScale, .hugeOffset: "scale"
            case .negativeTemperature: "temperatures[ten-crop]"
            case .unknownName: "unknown architecture"
            }
        }

        func apply(to card: inout ModelCard) {
            switch self {
            case .preprocessingSize: card.preprocessing.inputSize = 48
            case .hugeInput: card.architecture.inputSize = 100_000
            case .noClasses: card.architecture.classCount = 0
            case .hugeMargin: card.preprocessing.faceMargin = 1e30
            case .negativeMargin: card.preprocessing.faceMargin = -5
            case .zeroScale: card.preprocessing.scale = 0
            case .hugeScale: card.preprocessing.scale = 3e38  // every input infinite: NaN probabilities
            case .hugeOffset: card.preprocessing.offset = -1e20
            case .negativeTemperature: card.temperatures = [.tenCrop: -1]
            case .unknownName: card.architecture.name = "resnet"
            }
        }
    }

    /// Cards whose numbers are out of range or disagree with the network are refused when loaded, naming the
    /// file and the field (they used to crash `analyze`, `serve` and `info` or silently change the results).
    @Test(arguments: CardDamage.allCases)
    func outOfRangeCardsAreRefused(_ damage: CardDamage) throws {
        let (_, _, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        try Self.rewriteCard(at: path) { damage.apply(to: &$0) }
        let error = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(error.description.contains(path) && error.description.contains(damage.field), "\(error)")
    }

    /// One flipped bit in a weight, or a card edited without updating the checksum (a renamed key silently dropped
    /// the model's test-time augmentation), is refused on load, naming the file.
    @Test func damagedOrEditedFilesFailTheChecksum() throws {
        let (_, _, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        var flipped = original
        flipped[flipped.count - 5] ^= 0x10
        try flipped.write(to: URL(fileURLWithPath: path))
        let damaged = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(damaged.description.contains(path) && damaged.description.contains("checksum mismatch"), "\(damaged)")

        var file = try SafeTensorsFile(bytes: [UInt8](original), source: path)
        file.metadata[ModelFile.cardKey] = file.metadata[ModelFile.cardKey]?.replacingOccurrences(of: "\"notes\"", with: "\"nOtes\"")
        try file.write(to: path)
        let edited = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(edited.description.contains("checksum mismatch"), "\(edited)")

        // A file written before checksums existed still loads.
        file = try SafeTensorsFile(bytes: [UInt8](original), source: path)
        file.metadata[ModelFile.checksumKey] = nil
        try file.write(to: path)
        #expect(throws: Never.self) { try ModelFile.load(path) }
    }

    /// NaN, and finite weights beyond any trained network's (3e38 made every probability NaN, with exit status 0).
    @Test(arguments: [Float.nan, 3e38, -2e6])
    func damagedWeightsAreRefused(damaged: Float) throws {
        let (_, _, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        var file = try SafeTensorsFile(contentsOf: path)
        let name = try #require(file.tensors.keys.sorted().first)
        let tensor = try #require(file.tensors[name])
        var values = tensor.values
        values[values.count / 2] = damaged
        file.tensors[name] = try NamedArray(shape: tensor.shape, values: values)
        try Self.writeSigned(file, to: path)
        let error = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(error.description.contains(path) && error.description.contains(name)
                && error.description.contains("expected finite weights of at most"), "\(error)")
    }

    /// A batch norm's moving variance at or below minus its epsilon (a Keras file can hold one) would make every
    /// prediction NaN: refused by name on load; a variance just above it loads.
    @Test func impossibleVariancesAreRefused() throws {
        let (model, _, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        let name = try #require(model.parameters.map(\.name).first { $0.hasSuffix("moving_variance") })
        let epsilon = try #require(model.network.nestedLayers.compactMap { $0 as? BatchNorm }.first).epsilon
        for (variance, refused) in [(-epsilon, true), (-1, true), (-epsilon / 2, false)] {
            var file = try SafeTensorsFile(contentsOf: path)
            let tensor = try #require(file.tensors[name])
            var values = tensor.values
            values[1] = variance
            file.tensors[name] = try NamedArray(shape: tensor.shape, values: values)
            try Self.writeSigned(file, to: path)
            if refused {
                let error = try #require(throws: ModelError.self) { try ModelFile.load(path) }
                #expect(error.description.contains(path) && error.description.contains("\(name) holds \(variance) at index 1")
                        && error.description.contains("expected a variance above"), "\(error)")
            } else {
                #expect(throws: Never.self) { try ModelFile.load(path) }
            }
        }
    }

    @Test func truncatedFileIsASafeTensorsError() throws {
        let (_, _, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for length in [4, 40, bytes.count - 10] {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: SafeTensorsError.self) { try ModelFile.load(path) }
            #expect(error.description.contains(path), "\(error)")
        }
    }

    @Test func missingFileNamesThePath() throws {
        let error = try #require(throws: SafeTensorsError.self) { try ModelFile.load("/nonexistent/model.safetensors") }
        #expect(error.description.contains("/nonexistent/model.safetensors"), "\(error)")
    }

    @Test func safeTensorsWithoutCardIsRejected() throws {
        let directory = try TrainerScratchDirectory()
        defer { directory.remove() }
        let path = directory.appending("foreign.safetensors")
        var file = SafeTensorsFile()
        file.tensors["weight"] = try NamedArray(shape: [2], values: [1, 2])
        file.metadata["format"] = "pt"
        try file.write(to: path)
        let error = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(error.description.contains(path), "\(error)")
        #expect(error.description.contains("model card"), "\(error)")
        #expect(error.description.contains("'\(ModelFile.cardKey)'"), "\(error)")
    }

    @Test func wrongLabelsAreRejected() throws {
        let (_, _, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        try Self.rewriteCard(at: path) { $0.labels.reverse() }
        let error = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(error.description.contains("labels"), "\(error)")
        #expect(error.description.contains("angry"), "\(error)")
    }

    @Test func unknownFormatVersionIsRejected() throws {
        let (_, _, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        try Self.rewriteCard(at: path) { $0.formatVersion = 99 }
        let error = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(error.description.contains("version 99"), "\(error)")
        #expect(error.description.contains("version \(ModelCard.currentFormatVersion)"), "\(error)")
    }

    @Test func unknownArchitectureIsRejected() throws {
        let (_, _, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        try Self.rewriteCard(at: path) { $0.architecture.name = "resnet-9000" }
        let error = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(error.description.contains("resnet-9000"), "\(error)")
    }

    @Test func missingOrMisshapenTensorsAreRejected() throws {
        let (_, _, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        var file = try SafeTensorsFile(contentsOf: path)
        let name = try #require(file.tensors.keys.sorted().first)
        file.tensors[name] = nil
        try Self.writeSigned(file, to: path)
        let missing = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(missing.description.contains(name) && missing.description.contains(path), "\(missing)")

        file.tensors[name] = try NamedArray(shape: [1], values: [0])
        try Self.writeSigned(file, to: path)
        let misshapen = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(misshapen.description.contains(name), "\(misshapen)")
    }

    @Test func invalidCardJSONIsRejected() throws {
        let (_, _, path, directory) = try Self.savedModel()
        defer { directory.remove() }
        var file = try SafeTensorsFile(contentsOf: path)
        file.metadata[ModelFile.cardKey] = "{\"formatVersion\": 1}"
        try Self.writeSigned(file, to: path)
        let error = try #require(throws: ModelError.self) { try ModelFile.load(path) }
        #expect(error.description.contains("model card is not valid"), "\(error)")
    }
}

/// Seeded mutation fuzzing of model files (safetensors header, card JSON, tensor bytes): every mutated file loads
/// or fails with a typed error naming it; none crashes or hangs.
struct ModelFileFuzzTests {
    @Test func mutatedModelFilesLoadOrFailWithATypedError() throws {
        let (_, _, path, directory) = try ModelFileTests.savedModel()
        defer { directory.remove() }
        let valid = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // A quarter of the cases mutate the whole file, half only the header (safetensors JSON and card), and a
        // quarter mutate the card's JSON and re-sign the file, so the card checks behind the checksum are reached.
        let header = Int(valid[0]) | Int(valid[1]) << 8 | Int(valid[2]) << 16
        let file = try SafeTensorsFile(bytes: valid, source: path)
        let card = Array(try #require(file.metadata[ModelFile.cardKey]).utf8)
        let cases = ProcessInfo.processInfo.environment["EMOVERE_FUZZ_CASES"].flatMap(Int.init) ?? 800
        var mutator = Mutator(seed: 5)
        let target = directory.appending("mutated.safetensors")
        for index in 0..<cases {
            switch index % 4 {
            case 0:
                try Data(mutator.mutate(valid)).write(to: URL(fileURLWithPath: target))
            case 3:
                var edited = file
                edited.metadata[ModelFile.cardKey] = String(decoding: mutator.mutate(card), as: UTF8.self)
                try ModelFileTests.writeSigned(edited, to: target)
            default:
                let mutated = mutator.mutate(Array(valid.prefix(header + 8))) + valid.dropFirst(header + 8)
                try Data(mutated).write(to: URL(fileURLWithPath: target))
            }
            do {
                let (model, card) = try ModelFile.load(target)
                #expect(model.architecture == card.architecture)
            } catch let error as ModelError {
                #expect(error.description.contains(target), "case \(index): \(error)")
            } catch let error as SafeTensorsError {
                #expect(error.description.contains(target), "case \(index): \(error)")
            }
        }
    }
}
