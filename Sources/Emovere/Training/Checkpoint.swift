import EmovereData
import EmovereFiles
import EmovereNN
import EmovereTensor
import Foundation

/// A training checkpoint: model parameters (`model.<name>`), optimizer slots (`optimizer.<name>.slot<i>`)
/// and, as JSON metadata, the recipe, `TrainingState` and a checksum of the run's data. Written atomically, so a run killed at any
/// moment (kill -9 included) resumes from its last complete epoch with bit-identical state. A SHA-256 checksum
/// (`ModelFile.checksumKey`) is verified when it is read.
enum Checkpoint {
    static let metadataKey = "emovere.checkpoint"

    private struct Header: Codable {
        var recipe: TrainingRecipe
        var state: TrainingState
        /// `dataChecksum` of the run's training and validation sets (nil in checkpoints written before it was kept).
        var data: String?
    }

    /// A SHA-256 checksum of `training` and `validation` (their image size, labels and pixels, in order) and of the
    /// soft-label distributions mixed into the training targets (none without soft labels: the checksum of such a run
    /// is what it always was). A resume on other data (another --data, a validation fraction split otherwise, changed
    /// votes) is refused by it.
    static func dataChecksum(training: FaceDataset, validation: FaceDataset, votes: [[Float]?] = []) -> String {
        var hash = SHA256()
        for dataset in [training, validation] { dataset.hashContent(into: &hash) }
        for distribution in votes {
            // A marker per image, so an image without votes differs from one with an empty distribution.
            var marker: UInt8 = distribution == nil ? 0 : 1
            withUnsafeBytes(of: &marker) { hash.update($0) }
            distribution?.map(\.bitPattern.littleEndian).withUnsafeBytes { hash.update($0) }
        }
        return hash.finalizeHex()
    }

    static func save(to path: String, recipe: TrainingRecipe, data: String, model: Model, optimizer: Optimizer,
                     state: TrainingState) throws {
        var file = SafeTensorsFile()
        for named in model.parameters {
            let value = named.parameter.value
            file.tensors["model." + named.name] = try NamedArray(shape: value.shape, values: value.values)
        }
        for slot in optimizer.namedSlots {
            file.tensors["optimizer." + slot.name] = try NamedArray(shape: slot.tensor.shape, values: slot.tensor.values)
        }
        let header = Header(recipe: recipe, state: state, data: data)
        file.metadata[metadataKey] = String(decoding: try JSONEncoder.sortedKeys().encode(header), as: UTF8.self)
        file.metadata[ModelFile.checksumKey] = try ModelFile.checksum(of: file)
        try file.write(to: path)
    }

    /// The model saved in checkpoint `file` (read from `path`) and its recipe, or nil when the file is
    /// not a checkpoint.
    static func model(in file: SafeTensorsFile, path: String) throws -> (Model, TrainingRecipe)? {
        guard let json = file.metadata[metadataKey] else { return nil }
        try ModelFile.verifyChecksum(file, path: path)
        let header: Header
        let model: Model
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(json.utf8))
            try header.recipe.validate()  // before a network is built from its architecture
            model = try Model(architecture: header.recipe.architecture)
        } catch {
            throw ModelError.invalidModelFile(path: path, reason: "not a valid training checkpoint: \(error)")
        }
        try load(model, from: file, path: path)
        return (model, header.recipe)
    }

    /// Loads the checkpoint's model tensors (`model.<name>`) into `model` and checks them; a problem names `path`.
    private static func load(_ model: Model, from file: SafeTensorsFile, path: String) throws {
        do {
            try model.load(modelState(file))
        } catch {
            throw ModelError.invalidModelFile(
                path: path, reason: "training checkpoint: \(error) (its model tensors are stored as model.<name>)")
        }
        try ModelFile.checkWeights(model, path: path)
    }

    private static func modelState(_ file: SafeTensorsFile) -> [String: (shape: [Int], values: [Float])] {
        var state: [String: (shape: [Int], values: [Float])] = [:]
        for (name, array) in file.tensors where name.hasPrefix("model.") {
            state[String(name.dropFirst("model.".count))] = (array.shape, array.values)
        }
        return state
    }

    /// Reads the checkpoint at `path` and checks that `recipe` can continue it: an Emovere checkpoint, its checksum
    /// right, made with `recipe` (its epoch count aside: a run may be extended). Returns the file and its header.
    private static func resumable(_ path: String, recipe: TrainingRecipe) throws -> (SafeTensorsFile, Header) {
        let (file, header) = try read(path)
        guard recipe.epochs >= header.state.completedEpochs else {
            throw TrainingError.checkpointMismatch(
                path: path, reason: "the run has done \(header.state.completedEpochs) epochs, more than the \(recipe.epochs) asked for; give --epochs \(header.state.completedEpochs) or more")
        }
        var expected = header.recipe
        expected.epochs = recipe.epochs  // extending a run is allowed
        guard expected == recipe else {
            throw TrainingError.checkpointMismatch(
                path: path, reason: describeDifference(expected, recipe, recipeFile: URL(fileURLWithPath: path)
                    .deletingLastPathComponent().appendingPathComponent("recipe.json").path))
        }
        return (file, header)
    }

    /// The checkpoint at `path` and its header: an Emovere checkpoint with its checksum right.
    private static func read(_ path: String) throws -> (SafeTensorsFile, Header) {
        let file = try SafeTensorsFile(contentsOf: path)
        guard let json = file.metadata[metadataKey] else {
            throw TrainingError.checkpointMismatch(path: path, reason: "not an Emovere checkpoint (no '\(metadataKey)' metadata)")
        }
        try ModelFile.verifyChecksum(file, path: path)
        do {
            return (file, try JSONDecoder().decode(Header.self, from: Data(json.utf8)))
        } catch {
            throw TrainingError.checkpointMismatch(path: path, reason: "its '\(metadataKey)' metadata cannot be read: \(error)")
        }
    }

    /// The recipe the checkpoint at `path` was made with (its epoch count the run's length when it was saved).
    static func recipe(at path: String) throws -> TrainingRecipe {
        try read(path).1.recipe
    }

    /// Checks that `recipe` can continue the checkpoint at `path` (see `resumable`), without loading it.
    /// Returns the recipe the checkpoint was saved with (its epoch count the run's length then).
    static func verify(at path: String, recipe: TrainingRecipe) throws -> TrainingRecipe {
        try resumable(path, recipe: recipe).1.recipe
    }

    /// Restores the checkpoint at `path` into `model`, `optimizer` and `state`, after checking that `recipe` can
    /// continue it and that it was made on the same data (`data`, a `dataChecksum`).
    static func restore(from path: String, recipe: TrainingRecipe, data: String, model: Model, optimizer: Optimizer,
                        state: inout TrainingState) throws {
        let (file, header) = try resumable(path, recipe: recipe)
        if let recorded = header.data, recorded != data {
            throw TrainingError.checkpointMismatch(
                path: path, reason: "the checkpoint was made on other training or validation images than these, or other soft-label votes (another --data, --validation-fraction or --soft-labels file, or a folder layout whose validation folder is now val/ rather than test/)")
        }
        try load(model, from: file, path: path)
        for slot in optimizer.namedSlots {
            let array: NamedArray
            do {
                array = try file.tensor(named: "optimizer." + slot.name)
            } catch {
                throw ModelError.invalidModelFile(path: path, reason: "training checkpoint: \(error)")
            }
            guard array.shape == slot.tensor.shape else {
                throw ModelError.invalidModelFile(
                    path: path, reason: "training checkpoint: optimizer state optimizer.\(slot.name) has shape \(array.shape); expected \(slot.tensor.shape)")
            }
            if let index = array.values.firstIndex(where: { !$0.isFinite }) {
                throw ModelError.invalidModelFile(
                    path: path, reason: "optimizer state optimizer.\(slot.name) holds \(array.values[index]) at index \(index); expected finite values")
            }
            array.values.withUnsafeBufferPointer { slot.tensor.pointer.update(from: $0.baseAddress!, count: slot.tensor.count) }
        }
        optimizer.step = header.state.optimizerStep
        state = header.state
        // An extended run that had stopped early goes on, with its patience counted afresh.
        if state.completedEpochs < recipe.epochs && header.recipe.epochs != recipe.epochs && state.stoppedEarly {
            state.stoppedEarly = false
            state.epochsSinceImprovement = 0
        }
    }

    /// The settings in which `new` differs from the checkpoint's `old` recipe, e.g. `batchSize 32 -> 8`, by their
    /// dotted names in the recipe's JSON (`recipeFile`, the run's own recipe, restores them all).
    private static func describeDifference(_ old: TrainingRecipe, _ new: TrainingRecipe, recipeFile: String) -> String {
        func object(_ recipe: TrainingRecipe) -> Any? {
            (try? JSONEncoder.sortedKeys().encode(recipe)).flatMap { try? JSONSerialization.jsonObject(with: $0) }
        }
        func text(_ value: Any?) -> String {
            guard let value else { return "(none)" }
            guard JSONSerialization.isValidJSONObject(value),
                  let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else {
                return "\(value)"
            }
            return String(decoding: data, as: UTF8.self)
        }
        var differences: [String] = []
        func compare(_ old: Any?, _ new: Any?, name: String) {
            if let old = old as? [String: Any], let new = new as? [String: Any] {
                for key in Set(old.keys).union(new.keys).sorted() {
                    compare(old[key], new[key], name: name.isEmpty ? key : name + "." + key)
                }
            } else if text(old) != text(new) {
                differences.append("\(name) \(text(old)) -> \(text(new))")
            }
        }
        compare(object(old), object(new), name: "")
        return "the checkpoint's recipe differs in " + differences.joined(separator: ", ")
            + " (resume with --recipe \(recipeFile) to continue the run as it began)"
    }
}
