import EmovereFiles
import EmovereNN
import Foundation

/// Averages the weights of several snapshots of one network (model files or training checkpoints),
/// as stochastic weight averaging does with the last epochs of a run: every parameter, batch-norm
/// running statistics included, becomes the mean of its values in the snapshots.
public enum WeightAveraging {
    /// The mean of the snapshots at `paths` (at least one), all of one architecture and preprocessing, with the card of
    /// the first one (or, for a checkpoint, a card made from its recipe). The card's validation metrics
    /// and evaluation are dropped (they described one snapshot) and a note names the averaged files.
    public static func average(_ paths: [String]) throws -> (model: Model, card: ModelCard) {
        guard let firstPath = paths.first else {
            throw ModelError.invalidModelFile(path: "", reason: "expected at least one model file or checkpoint to average")
        }
        let (model, firstCard) = try load(firstPath)
        var card = firstCard
        var sums = model.stateDictionary().mapValues { $0.values.map(Double.init) }
        let firstKernels = kernels(of: model)
        for path in paths.dropFirst() {
            let (other, otherCard) = try load(path)
            guard otherCard.architecture == card.architecture else {
                throw ModelError.invalidModelFile(
                    path: path, reason: "expected the architecture of \(firstPath), \(card.architecture), found \(otherCard.architecture)")
            }
            // Weights learnt on faces cropped or scaled otherwise do not average into one model.
            guard otherCard.preprocessing == card.preprocessing else {
                throw ModelError.invalidModelFile(
                    path: path, reason: "expected the preprocessing of \(firstPath), \(card.preprocessing), found \(otherCard.preprocessing)")
            }
            // Networks trained apart hold their features in other channels: their mean is no network at all.
            let similarity = cosineSimilarity(firstKernels, kernels(of: other))
            guard similarity >= minimumSimilarity else {
                throw ModelError.invalidModelFile(path: path, reason: String(format:
                    "expected a snapshot of the network of %@ (a checkpoint of its run, or a model fine-tuned from the same network), found weights unrelated to it (cosine similarity %.3f, below %.1f): networks trained apart do not average into one", firstPath, similarity, minimumSimilarity))
            }
            for (name, entry) in other.stateDictionary() {
                guard var sum = sums[name] else { throw ModelError.unexpectedParameter(name: name) }
                for index in sum.indices { sum[index] += Double(entry.values[index]) }
                sums[name] = sum
            }
        }
        let count = Double(paths.count)
        let state = model.stateDictionary()
        var averaged: [String: (shape: [Int], values: [Float])] = [:]
        for (name, entry) in state {
            averaged[name] = (entry.shape, (sums[name] ?? []).map { Float($0 / count) })
        }
        try model.load(averaged)
        // What described the first snapshot alone goes: its figures, fitted temperatures, notes, and how it was
        // trained or imported (no recipe reproduces an average). The architecture, preprocessing, labels and chosen
        // views stay.
        card.metrics = [:]
        card.origin = nil
        card.evaluation = nil
        card.robustness = nil
        card.temperatures = nil
        card.heldOutDigest = nil
        card.recipe = nil
        card.trainingCommand = nil
        card.trainingSeconds = nil
        card.notes = ["weights: the average of \(paths.count) snapshots (\(paths.joined(separator: ", ")))"]
        return (model, card)
    }

    /// The least cosine similarity of the snapshots' kernels to the first one's. Measured on the bundled models:
    /// snapshots of one network (fine-tuned from one another) 0.98-1.00, networks trained apart below 0.02.
    public static let minimumSimilarity = 0.5

    /// The convolution and dense kernels of `model` by name (not biases or batch norms, which start alike in every
    /// network).
    private static func kernels(of model: Model) -> [String: [Float]] {
        model.stateDictionary().filter { $0.key.hasSuffix("kernel") }.mapValues(\.values)
    }

    /// The cosine similarity of two sets of kernels seen as one vector each (0 when one is all zero).
    private static func cosineSimilarity(_ first: [String: [Float]], _ second: [String: [Float]]) -> Double {
        var dot = 0.0, firstNorm = 0.0, secondNorm = 0.0
        for (name, values) in first {
            guard let others = second[name], others.count == values.count else { continue }
            for (a, b) in zip(values, others) {
                dot += Double(a) * Double(b)
                firstNorm += Double(a) * Double(a)
                secondNorm += Double(b) * Double(b)
            }
        }
        return firstNorm > 0 && secondNorm > 0 ? dot / (firstNorm * secondNorm).squareRoot() : 0
    }

    /// A model file, or a training checkpoint with a card made from its recipe.
    static func load(_ path: String) throws -> (Model, ModelCard) {
        let file = try SafeTensorsFile(contentsOf: path)
        guard file.metadata[ModelFile.cardKey] == nil else { return try ModelFile.load(file, path: path) }
        guard let (model, recipe) = try Checkpoint.model(in: file, path: path) else {
            throw ModelError.invalidModelFile(
                path: path, reason: "expected an Emovere model file or training checkpoint, found metadata keys \(file.metadata.keys.sorted())")
        }
        let card = ModelCard(architecture: recipe.architecture, preprocessing: recipe.preprocessing,
                             parameterCount: model.parameterCount, recipe: recipe)
        return (model, card)
    }
}
