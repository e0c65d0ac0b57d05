import Emovere
import EmovereKeras
import EmovereNN
import EmovereTensor
import Foundation
import Testing

/// `KerasImporter` on Keras 2 files that `make_keras_fixture.py` writes with h5py, checked against the
/// script's NumPy forward pass, and on files that are not Keras mini-Xception models.
struct KerasImporterTests {
    /// Probabilities of `model` for the reference images, preprocessed as `card` says.
    static func probabilities(_ model: any Classifier, card: ModelCard, reference: KerasFixture.Reference) -> [[Float]] {
        let size = card.preprocessing.inputSize
        return reference.pixels.map { pixels in
            let input = Tensor(shape: [1, size, size, 1], values: pixels)
            card.preprocessing.apply(input.pointer, count: input.count)
            return model.probabilities(input).values
        }
    }

    static func largestDifference(_ actual: [[Float]], _ expected: [[Float]]) -> Float {
        // NaN on either side is an infinite difference (`max` alone would skip it).
        zip(actual.joined(), expected.joined()).map { $0.isNaN || $1.isNaN ? .infinity : abs($0 - $1) }.max() ?? .infinity
    }

    @Test func importedModelMatchesNumPyForwardPass() throws {
        let fixture = try KerasFixture()
        defer { fixture.remove() }
        let reference = try fixture.reference()
        let (model, card) = try KerasImporter.importModel(from: fixture.path("mini_xception.hdf5"))

        #expect(card.architecture == Architecture(name: "mini-xception", inputSize: 48, classCount: 7))
        #expect(card.preprocessing == .symmetric(inputSize: 48))
        #expect(card.labels == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
        #expect(card.parameterCount == 58_423)
        #expect(card.recipe == nil)
        #expect(card.origin == ModelOrigin(format: "keras-hdf5", file: "mini_xception.hdf5", producer: "Keras 2.0.5, tensorflow backend"))
        // The fixture gives two batch norms another epsilon than Keras's (and Emovere's) 1e-3.
        #expect(card.notes.contains { $0.contains("batch_normalization_2, batch_normalization_7") }, "\(card.notes)")

        let probabilities = Self.probabilities(model, card: card, reference: reference)
        #expect(probabilities.count == 3)
        #expect(Self.largestDifference(probabilities, reference.probabilities) <= 1e-4,
                "Emovere \(probabilities), NumPy \(reference.probabilities)")

        // Saved as an Emovere model file and loaded for inference (batch norms folded), it predicts the same.
        let saved = fixture.path("imported.safetensors")
        try ModelFile.save(model, card: card, to: saved)
        let (loaded, loadedCard) = try ModelFile.loadForInference(saved)
        #expect(loadedCard == card)
        let reloaded = Self.probabilities(loaded, card: loadedCard, reference: reference)
        #expect(Self.largestDifference(reloaded, reference.probabilities) <= 1e-4)
    }

    @Test func firstLayerThatDoesNotFitIsNamed() throws {
        let fixture = try KerasFixture()
        defer { fixture.remove() }
        let path = fixture.path("wrong_pool.hdf5")
        let error = try #require(throws: KerasImportError.self) { try KerasImporter.importModel(from: path) }
        guard case let .incompatibleLayer(errorPath, layer, className, _, received) = error else {
            Issue.record("expected an incompatible layer, got \(error)")
            return
        }
        #expect(errorPath == path)
        #expect(layer == "max_pooling2d_2")
        #expect(className == "MaxPooling2D")
        #expect(received == "padding 'valid'")
        #expect(error.description.contains("padding 'same'"), "\(error)")
    }

    @Test func weightsOnlyFileNeedsTheArchitecture() throws {
        let fixture = try KerasFixture()
        defer { fixture.remove() }
        let path = fixture.path("weights_only.hdf5")
        let error = try #require(throws: KerasImportError.self) { try KerasImporter.importModel(from: path) }
        guard case let .notKerasModel(errorPath, reason) = error else {
            Issue.record("expected not-a-Keras-model, got \(error)")
            return
        }
        #expect(errorPath == path)
        #expect(reason.contains("save_weights"), "\(reason)")
    }

    /// A NaN weight, a weight listed twice, integer or wrongly shaped kernels (the shape read before the values), or
    /// an input size no face crop has, is refused by name at import (as a model file is on load).
    @Test func damagedWeightsAndImpossibleInputSizesAreRefused() throws {
        let fixture = try KerasFixture()
        defer { fixture.remove() }
        let nan = fixture.path("nan_weight.hdf5")
        let nanError = try #require(throws: KerasImportError.self) { try KerasImporter.importModel(from: nan) }
        #expect(nanError.description.contains(nan) && nanError.description.contains("expected finite weights")
                && nanError.description.components(separatedBy: "nan_weight.hdf5").count == 2, "named once: \(nanError)")
        let duplicate = fixture.path("duplicate_weight.hdf5")
        let duplicateError = try #require(throws: KerasImportError.self) { try KerasImporter.importModel(from: duplicate) }
        #expect(duplicateError.description.contains("lists two weights named 'kernel'"), "\(duplicateError)")
        let integer = fixture.path("integer_weight.hdf5")
        let integerError = try #require(throws: KerasImportError.self) { try KerasImporter.importModel(from: integer) }
        #expect(integerError.description.contains("expected floating-point values, found integers")
                && !integerError.description.contains("damaged"), "\(integerError)")
        let reshaped = fixture.path("wrong_shape.hdf5")
        let shapeError = try #require(throws: KerasImportError.self) { try KerasImporter.importModel(from: reshaped) }
        guard case let .weightShapeMismatch(path, _, variable, expected, received) = shapeError else {
            Issue.record("expected a shape mismatch, received \(shapeError)")
            return
        }
        #expect(path == reshaped && variable == "kernel" && received.count == 4 && received.dropLast() == expected.dropLast()
                && received.last == expected.last.map { $0 + 1 }, "\(shapeError)")
        #expect(shapeError.description.contains("has shape \(received), expected \(expected)"), "\(shapeError)")
        let huge = fixture.path("huge_input.hdf5")
        let hugeError = try #require(throws: KerasImportError.self) { try KerasImporter.importModel(from: huge) }
        #expect(hugeError.description.contains(huge) && hugeError.description.contains("input size 100000x100000"),
                "\(hugeError)")
    }

    @Test func truncatedFileIsAnErrorNotACrash() throws {
        let fixture = try KerasFixture()
        defer { fixture.remove() }
        let path = fixture.path("mini_xception.hdf5")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for length in [4, 100, 2_000, bytes.count / 2, bytes.count - 100] {
            let truncated = fixture.path("truncated-\(length).hdf5")
            try bytes.prefix(length).write(to: URL(fileURLWithPath: truncated))
            let error = try #require(throws: KerasImportError.self) { try KerasImporter.importModel(from: truncated) }
            #expect(error.description.hasPrefix(truncated + ":"), "\(error)")
        }
    }

    @Test func fileThatIsNotHDF5IsRejected() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-keras-\(UUID().uuidString).hdf5").path
        try Data("not an HDF5 file, just text\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: KerasImportError.notHDF5(path: path)) { try KerasImporter.importModel(from: path) }
    }

    @Test func missingFileIsNamed() {
        #expect(throws: KerasImportError.fileNotFound(path: "/nonexistent/model.hdf5")) {
            try KerasImporter.importModel(from: "/nonexistent/model.hdf5")
        }
    }
}
