import EmovereCore
import EmovereFiles
import EmovereNN
import EmovereONNX
import Foundation

extension ONNXExporter {
    /// The serialized ONNX model (`ModelProto` bytes) of `model`, with `card` in its metadata: input the
    /// preprocessed faces `[N, S, S, 1]`, output the probabilities `[N, classes]` of one view (with the card's
    /// temperature when the card's test-time augmentation is a single view: the probabilities Emovere shows).
    /// - Throws: ``ONNXExportError/cardMismatch(field:model:card:)`` when the card describes another model, or any
    ///   error of exporting its network.
    public static func export(_ model: any Classifier, card: ModelCard) throws(ONNXExportError) -> [UInt8] {
        guard card.architecture == model.architecture else {
            throw .cardMismatch(field: "architecture", model: "\(model.architecture)", card: "\(card.architecture)")
        }
        guard card.preprocessing.inputSize == model.architecture.inputSize else {
            throw .cardMismatch(field: "preprocessing.inputSize", model: "\(model.architecture.inputSize)",
                                card: "\(card.preprocessing.inputSize)")
        }
        let encoder = JSONEncoder.sortedKeys()
        let cardJSON: String
        let labelsJSON: String
        do {
            cardJSON = String(decoding: try encoder.encode(card), as: UTF8.self)
            labelsJSON = String(decoding: try encoder.encode(card.labels), as: UTF8.self)
        } catch {
            throw .encodingFailed(reason: "model card: \(error)")
        }
        let size = model.architecture.inputSize
        // Emovere applies a temperature after averaging a card's views: only a single-view card's goes in the graph.
        let views = card.testTimeAugmentation ?? .none
        let temperature = views == .none ? card.temperature(for: .none) : 1
        let metadata: [MetadataKey: String] = [
            .labels: labelsJSON, .inputSize: "\(size)", .inputLayout: "NHWC",
            .scale: "\(card.preprocessing.scale)", .offset: "\(card.preprocessing.offset)",
            .faceMargin: "\(card.preprocessing.faceMargin)", .temperature: "\(temperature)",
            .testTimeAugmentation: views.rawValue, .modelCard: cardJSON,
        ]
        return try export(
            network: model.network, inputShape: [size, size, 1], temperature: temperature, name: model.architecture.name,
            documentation: "\(model.architecture): preprocessed faces [N, \(size), \(size), 1] (NHWC, "
                + "\(card.preprocessing)) to probabilities [N, \(model.architecture.classCount)] of \(card.labels.joined(separator: ", "))",
            metadata: metadata)
    }

    /// Writes the ONNX model of `model` to `path` atomically; returns its size in bytes.
    @discardableResult
    public static func write(_ model: any Classifier, card: ModelCard, to path: String) throws -> Int {
        let bytes = try export(model, card: card)
        try AtomicFile.write(bytes, to: path)
        return bytes.count
    }
}
