import EmovereNN
import Foundation
import SwiftProtobuf

/// Exports Emovere models as ONNX models (opset 13) that compute what `Model.probabilities` computes.
///
/// The graph takes the preprocessed faces `input` `[N, S, S, 1]` (NHWC float32, pixels already mapped
/// by `x * scale + offset`, as Emovere feeds its models) and returns `probabilities` `[N, classes]`
/// (softmax included, of the logits divided by the card's temperature where the card uses a single view). The labels, preprocessing and the whole model card are in the model's
/// `metadata_props` (see `MetadataKey`). The layer tree is walked generically, so any architecture
/// made of the layers listed in `ONNXExportError.unsupportedLayer` exports.
public enum ONNXExporter {
    /// The ONNX operator set the graphs use.
    public static let opsetVersion = 13
    /// The ONNX IR version matching opset 13 (ONNX 1.8).
    public static let irVersion = 7
    /// The graph input: preprocessed faces `[N, S, S, 1]`.
    public static let inputName = "input"
    /// The graph output: class probabilities `[N, classes]`.
    public static let outputName = "probabilities"

    /// The `metadata_props` keys an exported model carries.
    public enum MetadataKey: String, CaseIterable, Sendable {
        /// The class names in output order, as a JSON array of strings.
        case labels
        /// The side of the square input in pixels (`S`).
        case inputSize = "input_size"
        /// The input's axis order, always `NHWC`.
        case inputLayout = "input_layout"
        /// The multiplier applied to 0-255 pixels before the graph.
        case scale = "preprocessing_scale"
        /// The value added after scaling.
        case offset = "preprocessing_offset"
        /// The fraction of the face box added on each side before cropping (boxes without landmarks).
        case faceMargin = "preprocessing_face_margin"
        /// The temperature the graph divides the logits by before the softmax: the card's for a single view when the
        /// card's test-time augmentation is `none`, else 1 (a temperature for several views applies to their average).
        case temperature
        /// The views the card averages (`none`, `flip`, `flip-crop`, `ten-crop`); the graph computes one view, and a
        /// caller averages the views' probabilities as Emovere does.
        case testTimeAugmentation = "test_time_augmentation"
        /// The Emovere model card, as JSON.
        case modelCard = "model_card"
    }

    /// The serialized ONNX model of any built `network` (see `modelProto(network:inputShape:temperature:name:documentation:metadata:)`).
    public static func export(
        network: any Layer, inputShape: [Int], temperature: Float = 1, name: String, documentation: String,
        metadata: [MetadataKey: String]
    ) throws(ONNXExportError) -> [UInt8] {
        let proto = try modelProto(network: network, inputShape: inputShape, temperature: temperature, name: name,
                                   documentation: documentation, metadata: metadata)
        do {
            return try proto.serializedBytes()
        } catch {
            throw .encodingFailed(reason: "\(error)")
        }
    }

    /// The ONNX model of any built `network` over per-example `inputShape` `[H, W, C]` whose output is
    /// a vector of logits: input `[N, H, W, C]`, output the softmax of the logits divided by `temperature`
    /// `[N, classes]`.
    static func modelProto(
        network: any Layer, inputShape: [Int], temperature: Float = 1, name: String, documentation: String,
        metadata: [MetadataKey: String]
    ) throws(ONNXExportError) -> Onnx_ModelProto {
        guard inputShape.count == 3 else {
            throw .invalidInputShape(type: "\(type(of: network))", path: "", expected: "[height, width, channels]",
                                     received: inputShape)
        }
        var builder = GraphBuilder()
        let channelsFirst = builder.addNode("Transpose", name: "\(inputName)/Transpose", inputs: [inputName],
                                            attributes: [.init("perm", ints: [0, 3, 1, 2])])
        let logits = try builder.add(network, path: "", input: GraphValue(name: channelsFirst, shape: inputShape))
        guard logits.shape.count == 1 else {
            throw .invalidInputShape(type: "Softmax", path: "output", expected: "[classes]", received: logits.shape)
        }
        var scores = logits.name
        if temperature != 1 {
            let divisor = builder.addInitializer("temperature", shape: [], values: [temperature])
            scores = builder.addNode("Div", name: "temperature/Div", inputs: [scores, divisor])
        }
        _ = builder.addNode("Softmax", name: "softmax", inputs: [scores], attributes: [.init("axis", int: 1)],
                            output: outputName)
        var graph = builder.graph
        graph.name = name
        graph.input = [GraphBuilder.valueInfo(inputName, dimensions: [.symbolic("N")] + inputShape.map { .fixed($0) })]
        graph.output = [GraphBuilder.valueInfo(outputName, dimensions: [.symbolic("N"), .fixed(logits.shape[0])])]

        var model = Onnx_ModelProto()
        model.irVersion = Int64(irVersion)
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = Int64(opsetVersion)
        model.opsetImport = [opset]
        model.producerName = "emovere"
        model.docString = documentation
        model.graph = graph
        model.metadataProps = MetadataKey.allCases.compactMap { key in
            metadata[key].map { value in
                var entry = Onnx_StringStringEntryProto()
                entry.key = key.rawValue
                entry.value = value
                return entry
            }
        }
        return model
    }
}
