import Emovere
import EmovereCore
import EmovereData
import EmovereNN
import EmovereTensor
import Foundation
import SwiftProtobuf
import Testing

@testable import EmovereONNX

/// The exported graph read back with SwiftProtobuf: versions, signature, metadata, wiring.
@Suite struct ONNXGraphTests {
    /// The bundled mini-Xception's (`models/tiny.safetensors`) ONNX file, parsed back, with the model and
    /// card it came from.
    private func exportedBundledModel(folded: Bool) throws -> (proto: Onnx_ModelProto, model: any Classifier, card: ModelCard) {
        let (model, card) = try TestModels.bundled(folded: folded, file: "models/tiny.safetensors")
        let bytes = try ONNXExporter.export(model, card: card)
        return (try Onnx_ModelProto(serializedBytes: bytes), model, card)
    }

    private func dimensions(_ info: Onnx_ValueInfoProto) -> [String] {
        info.type.tensorType.shape.dim.map { dimension in
            switch dimension.value {
            case let .dimValue(size)?: "\(size)"
            case let .dimParam(name)?: name
            case nil: "?"
            }
        }
    }

    @Test func signatureAndVersions() throws {
        let (proto, _, card) = try exportedBundledModel(folded: true)
        let size = "\(card.architecture.inputSize)"
        #expect(proto.irVersion == 7)
        #expect(proto.opsetImport.map(\.domain) == [""])
        #expect(proto.opsetImport.map(\.version) == [13])
        #expect(proto.producerName == "emovere")
        let float = Int32(Onnx_TensorProto.DataType.float.rawValue)
        #expect(proto.graph.input.map(\.name) == ["input"])
        #expect(proto.graph.input.map(dimensions) == [["N", size, size, "1"]])
        #expect(proto.graph.input.first?.type.tensorType.elemType == float)
        #expect(proto.graph.output.map(\.name) == ["probabilities"])
        #expect(proto.graph.output.map(dimensions) == [["N", "7"]])
        #expect(proto.graph.output.first?.type.tensorType.elemType == float)
        #expect(proto.graph.node.last?.opType == "Softmax")
        #expect(proto.graph.node.last?.output == ["probabilities"])
    }

    @Test func metadataHoldsLabelsPreprocessingAndCard() throws {
        let (proto, _, card) = try exportedBundledModel(folded: true)
        let metadata = Dictionary(uniqueKeysWithValues: proto.metadataProps.map { ($0.key, $0.value) })
        #expect(Set(metadata.keys) == Set(ONNXExporter.MetadataKey.allCases.map(\.rawValue)))
        let labels = try JSONDecoder().decode([String].self, from: Data((metadata["labels"] ?? "").utf8))
        #expect(labels == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
        #expect(labels == Emotion.allCases.map(\.name))
        #expect(metadata["input_size"] == "\(card.architecture.inputSize)")
        #expect(metadata["input_layout"] == "NHWC")
        #expect(Float(metadata["preprocessing_scale"] ?? "") == card.preprocessing.scale)
        #expect(Float(metadata["preprocessing_offset"] ?? "") == -1)
        let decoded = try JSONDecoder().decode(ModelCard.self, from: Data((metadata["model_card"] ?? "").utf8))
        #expect(decoded == card)
    }

    /// Every node reads the graph input, an initializer or an earlier node's output, and every
    /// initializer is used: the graph is wired and topologically sorted.
    @Test(arguments: [true, false]) func graphIsWiredInOrder(folded: Bool) throws {
        let (proto, _, _) = try exportedBundledModel(folded: folded)
        var available = Set(proto.graph.initializer.map(\.name) + proto.graph.input.map(\.name))
        var used = Set<String>()
        for node in proto.graph.node {
            for input in node.input { #expect(available.contains(input), "node \(node.name) reads unknown \(input)") }
            used.formUnion(node.input)
            available.formUnion(node.output)
        }
        #expect(Set(proto.graph.initializer.map(\.name)).isSubset(of: used))
        #expect(Set(proto.graph.node.map(\.name)).count == proto.graph.node.count)
    }

    /// mini-Xception: 2 stem convolutions, 4 modules of 2 separable convolutions (2 Conv each) and a
    /// shortcut, the head convolution; ReLUs in the stem and one per module.
    @Test func miniXceptionNodes() throws {
        let folded = try exportedBundledModel(folded: true).proto
        let counts = Dictionary(folded.graph.node.map { ($0.opType, 1) }, uniquingKeysWith: +)
        #expect(counts == ["Transpose": 1, "Conv": 23, "Relu": 6, "MaxPool": 4, "Add": 4, "GlobalAveragePool": 1,
                           "Flatten": 1, "Softmax": 1])
        let unfolded = try exportedBundledModel(folded: false)
        #expect(unfolded.proto.graph.node.count { $0.opType == "BatchNormalization" } == 14)
        // Unfolded, the initializers are exactly the model's parameters: 58,423 values.
        let values = unfolded.proto.graph.initializer.reduce(0) { $0 + $1.rawData.count / 4 }
        #expect(values == (try #require(unfolded.model as? Model)).parameterCount)
        #expect(values == 58_423)
    }

    @Test func samePaddingPutsTheOddPixelAtTheEnd() throws {
        let (proto, _, _) = try exportedBundledModel(folded: true)
        // The first module's max pool: 3x3 stride 2 'same' over 44x44 needs 1 pixel, at the bottom/right.
        let pool = try #require(proto.graph.node.first { $0.opType == "MaxPool" })
        let attributes = Dictionary(uniqueKeysWithValues: pool.attribute.map { ($0.name, $0.ints) })
        #expect(attributes["kernel_shape"] == [3, 3])
        #expect(attributes["strides"] == [2, 2])
        #expect(attributes["pads"] == [0, 0, 1, 1])
        // The head: 3x3 stride 1 'same' pads 1 on every side.
        let head = try #require(proto.graph.node.last { $0.opType == "Conv" })
        #expect(head.attribute.first { $0.name == "pads" }?.ints == [1, 1, 1, 1])
    }

    @Test func convolutionKernelsAreOIHW() throws {
        let (proto, unfolded, _) = try exportedBundledModel(folded: false)
        let model = try #require(unfolded as? Model)
        let kernel = try #require(model.parameters.first { $0.name == "0.kernel" }?.parameter.value)  // [3, 3, 1, 8]
        let exported = try #require(proto.graph.initializer.first { $0.name == "0.kernel" })
        #expect(exported.dims == [8, 1, 3, 3])
        let values = exported.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        // ONNX [f, c, ky, kx] is Emovere [ky, kx, c, f].
        for f in 0..<8 {
            for ky in 0..<3 {
                for kx in 0..<3 { #expect(values[(f * 3 + ky) * 3 + kx] == kernel[(ky * 3 + kx) * 8 + f]) }
            }
        }
    }

    @Test func permutedTransposesAxes() {
        // [2, 3] -> [3, 2]
        #expect(GraphBuilder.permuted([1, 2, 3, 4, 5, 6], shape: [2, 3], permutation: [1, 0]) == [1, 4, 2, 5, 3, 6])
        // [1, 2, 2] -> [2, 2, 1] keeps the order when only a size-1 axis moves.
        #expect(GraphBuilder.permuted([1, 2, 3, 4], shape: [1, 2, 2], permutation: [1, 2, 0]) == [1, 2, 3, 4])
        #expect(GraphBuilder.permuted([1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 2, 2], permutation: [2, 0, 1]) == [1, 3, 5, 7, 2, 4, 6, 8])
    }

    /// A layer the exporter does not know.
    private final class Shuffle: Layer {
        func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] { inputShape }
        func forward(_ input: Tensor, mode: ForwardMode) -> Tensor { input }
        func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? { outputGradient }
    }

    @Test func unsupportedLayerIsNamedWithItsPath() throws {
        let network = Sequential([Conv2d(filters: 2, kernelSize: 3),
                                  Residual { ReLU(); Shuffle() }, GlobalAveragePool2d()])
        var random = SplitMix64(seed: 1)
        _ = try network.build(inputShape: [8, 8, 1], random: &random)
        #expect(throws: ONNXExportError.unsupportedLayer(type: "Shuffle", path: "1.main.1")) {
            try ONNXExporter.modelProto(network: network, inputShape: [8, 8, 1], name: "test", documentation: "",
                                        metadata: [:])
        }
        let error = ONNXExportError.unsupportedLayer(type: "Shuffle", path: "1.main.1")
        #expect(error.description.contains("Shuffle at '1.main.1'"))
        #expect(error.description.contains("supported layers are"))
    }

    @Test func unbuiltLayerIsAnError() {
        let network = Sequential([Conv2d(filters: 2, kernelSize: 3), GlobalAveragePool2d()])
        #expect(throws: ONNXExportError.unbuiltLayer(type: "Conv2d", path: "0")) {
            try ONNXExporter.modelProto(network: network, inputShape: [8, 8, 1], name: "test", documentation: "",
                                        metadata: [:])
        }
    }

    @Test func cardOfAnotherInputSizeIsRejected() throws {
        let (model, card) = try TestModels.bundled(folded: true)
        let size = card.architecture.inputSize
        let otherSize = size == 64 ? 48 : 64
        var other = card
        other.preprocessing.inputSize = otherSize
        #expect(throws: ONNXExportError.cardMismatch(field: "preprocessing.inputSize", model: "\(size)", card: "\(otherSize)")) {
            try ONNXExporter.export(model, card: other)
        }
        other = card
        other.architecture.inputSize = otherSize
        #expect(throws: ONNXExportError.self) { try ONNXExporter.export(model, card: other) }
    }

    @Test func writeCreatesTheFile() throws {
        let (model, card) = try TestModels.bundled(folded: true)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-onnx-\(UUID().uuidString).onnx").path
        defer { try? FileManager.default.removeItem(atPath: path) }  // cleanup only
        try ONNXExporter.write(model, card: card, to: path)
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written == (try ONNXExporter.export(model, card: card)))
    }
}
