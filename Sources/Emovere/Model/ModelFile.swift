import EmovereCore
import EmovereData
import EmovereFiles
import EmovereNN
import EmovereTensor
import Foundation

/// Emovere model files: safetensors (loadable by Python's `safetensors`) holding every parameter
/// under its dotted name, with the model card as JSON in the header metadata under `"emovere"`.
public enum ModelFile {
    /// The metadata key that holds the card.
    public static let cardKey = "emovere"
    /// The metadata key of the file's checksum: the SHA-256 of the file as serialized without this key (card,
    /// other metadata and every tensor), verified on load.
    public static let checksumKey = "emovere.sha256"

    /// Writes `model` and `card` to `path` atomically, and the card alone to `path` with extension
    /// `.card.json` replacing `.safetensors` (for people and tools that read JSON). The card's
    /// `multiplyAddsPerFace` is set from the model. With `replaced` (the identity of the file read from `path`), a
    /// file there that another program wrote since is left as it is (`AtomicFile.write(_:to:replacing:)`).
    /// - Throws: ``ModelError/invalidModelFile(path:reason:)`` for a card `load` would refuse (nothing is written);
    ///   `SafeTensorsError.writeFailed` when the model file's write fails or the file read was replaced;
    ///   `AtomicFile.WriteError` when the card's `.card.json` cannot be written.
    public static func save(_ model: Model, card: ModelCard, to path: String, replacing replaced: FileIdentity? = nil) throws {
        if let problem = card.problem {
            throw ModelError.invalidModelFile(path: path, reason: "not written: its card is inconsistent (\(problem))")
        }
        var card = card
        card.multiplyAddsPerFace = model.multiplyAddsPerFace
        var file = SafeTensorsFile()
        for (name, entry) in model.stateDictionary() {
            file.tensors[name] = try NamedArray(shape: entry.shape, values: entry.values)
        }
        file.metadata[cardKey] = String(decoding: try JSONEncoder.sortedKeys().encode(card), as: UTF8.self)
        file.metadata["format"] = "pt"
        file.metadata[checksumKey] = try checksum(of: file)
        // Through a symbolic link, the card goes beside the file the link names (whose card it is).
        let target = try AtomicFile.destination(of: path)
        try file.write(to: target, replacing: replaced)
        try AtomicFile.write(Array(try JSONEncoder.sortedKeys(pretty: true).encode(card)) + [10], to: cardPath(for: target))
    }

    /// The card file `save` writes for `path`: beside the file a symbolic link at `path` names.
    public static func savedCardPath(for path: String) throws -> String {
        cardPath(for: try AtomicFile.destination(of: path))
    }

    /// The path of the JSON card written beside a model file.
    public static func cardPath(for path: String) -> String {
        (path.hasSuffix(".safetensors") ? String(path.dropLast(".safetensors".count)) : path) + ".card.json"
    }

    /// Loads a model file, checking the format version, label order and every tensor's shape.
    public static func load(_ path: String) throws -> (model: Model, card: ModelCard) {
        try load(SafeTensorsFile(contentsOf: path), path: path)
    }

    /// Loads a model file (checked as `load(_:)` does) prepared for inference only: faster, batch norms folded, the
    /// convolutions in `precision` where this CPU runs it (`Model.inferenceModel(precision:)`).
    public static func loadForInference(_ path: String, precision: Precision = .float32) throws
        -> (model: InferenceModel, card: ModelCard) {
        let (model, card) = try load(path)
        return (try model.inferenceModel(precision: precision), card)
    }

    /// `load(_:)` for a file already read from `path`.
    static func load(_ file: SafeTensorsFile, path: String) throws -> (model: Model, card: ModelCard) {
        try verifyChecksum(file, path: path)
        let card = try readCard(file, path: path)
        let model: Model
        do {
            model = try Model(architecture: card.architecture)
        } catch {
            throw ModelError.invalidModelFile(path: path, reason: error.description)
        }
        var state: [String: (shape: [Int], values: [Float])] = [:]
        for (name, array) in file.tensors { state[name] = (array.shape, array.values) }
        do {
            try model.load(state)
        } catch {
            throw ModelError.invalidModelFile(path: path, reason: error.description)
        }
        try checkWeights(model, path: path)
        return (model, card)
    }

    /// Throws ``ModelError/invalidModelFile(path:reason:)`` naming the first tensor of `model` (weights and
    /// batch-norm statistics) that holds NaN, infinity or a value beyond `Parameter.largestStoredValue`, or a batch
    /// norm's `moving_variance` that is not above `-epsilon` (its square root would be NaN in every prediction): model
    /// files, checkpoints and imports are checked alike.
    public static func checkWeights(_ model: Model, path: String) throws(ModelError) {
        let largestWeight = Parameter.largestStoredValue
        var epsilons: [ObjectIdentifier: Float] = [:]
        for case let norm as BatchNorm in model.network.nestedLayers {
            if let variance = norm.runningVariance { epsilons[ObjectIdentifier(variance)] = norm.epsilon }
        }
        for named in model.parameters {
            // Plain loops over the buffer: every load checks every weight, debug builds (the tests') included.
            let value = named.parameter.value.buffer
            var index = 0
            while index < value.count && abs(value[index]) <= largestWeight { index += 1 }  // false for NaN too
            if index < value.count {
                throw ModelError.invalidModelFile(
                    path: path, reason: "tensor \(named.name) holds \(value[index]) at index \(index); expected finite weights of at most \(largestWeight) in magnitude")
            }
            if let epsilon = epsilons[ObjectIdentifier(named.parameter)] {
                index = 0
                while index < value.count && value[index] + epsilon > 0 { index += 1 }
                if index < value.count {
                    throw ModelError.invalidModelFile(
                        path: path, reason: "tensor \(named.name) holds \(value[index]) at index \(index); expected a variance above -\(epsilon) (the batch norm's epsilon)")
                }
            }
        }
    }

    /// The SHA-256 (hex) of `file` serialized without its checksum entry.
    public static func checksum(of file: SafeTensorsFile) throws -> String {
        var unchecked = file
        unchecked.metadata[checksumKey] = nil
        return SHA256.hexDigest(of: try unchecked.serialized())
    }

    /// Throws when `file` carries a checksum that its content does not match (a flipped byte, an edited card); a
    /// file written before checksums existed loads with a warning.
    static func verifyChecksum(_ file: SafeTensorsFile, path: String) throws {
        guard let stored = file.metadata[checksumKey] else {
            StandardError.write("warning: \(path) has no checksum (written by an older emovere): loaded without an integrity check\n")
            return
        }
        let computed = try checksum(of: file)
        guard stored == computed else {
            throw ModelError.invalidModelFile(
                path: path, reason: "checksum mismatch: the file changed after it was written (damaged or edited); expected SHA-256 \(stored), computed \(computed)")
        }
    }

    static func readCard(_ file: SafeTensorsFile, path: String) throws -> ModelCard {
        guard let json = file.metadata[cardKey] else {
            if file.metadata[Checkpoint.metadataKey] != nil {
                throw ModelError.invalidModelFile(
                    path: path, reason: "a training checkpoint, not a model file: its run's best.safetensors is one, or make one from it with emovere average \(path) --statistics-data DATA --out MODEL.safetensors")
            }
            throw ModelError.invalidModelFile(
                path: path, reason: "expected an Emovere model card under metadata key '\(cardKey)', found keys \(file.metadata.keys.sorted()); is this an Emovere model file?")
        }
        let card: ModelCard
        do {
            card = try JSONDecoder().decode(ModelCard.self, from: Data(json.utf8))
        } catch {
            throw ModelError.invalidModelFile(path: path, reason: "model card is not valid: \(error)")
        }
        guard card.formatVersion == ModelCard.currentFormatVersion else {
            throw ModelError.invalidModelFile(
                path: path, reason: "model format version \(card.formatVersion), this build reads version \(ModelCard.currentFormatVersion); use a matching emovere or re-export the model")
        }
        let expected = Emotion.allCases.map(\.name)
        guard card.labels == expected else {
            throw ModelError.invalidModelFile(path: path, reason: "labels \(card.labels), expected \(expected)")
        }
        if let problem = card.problem {
            throw ModelError.invalidModelFile(path: path, reason: "model card: \(problem)")
        }
        return card
    }
}

