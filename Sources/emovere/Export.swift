import ArgumentParser
import Emovere
import EmovereCore
import EmovereNN
import EmovereONNX
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model file to ONNX: preprocessed faces [N, S, S, 1] (NHWC) to class probabilities.",
        discussion: """
            The ONNX model (opset \(ONNXExporter.opsetVersion)) has input '\(ONNXExporter.inputName)' and output \
            '\(ONNXExporter.outputName)' (softmax included); its metadata_props hold the labels, the \
            preprocessing and the model card (keys \(ONNXExporter.MetadataKey.allCases.map(\.rawValue).joined(separator: ", "))).
            """)

    @Argument(help: "Model file (.safetensors).")
    var model: String

    @Option(help: "Where to write the ONNX model (.onnx).")
    var onnx: String

    @Flag(help: "Keep batch norms as BatchNormalization nodes instead of folding them into the convolutions.")
    var keepBatchNorms = false

    func validate() throws {
        try OutputPaths.checkDistinct([("--onnx", onnx)], inputs: [model], inputName: "the model file")
        try OutputPaths.checkFileName(onnx, option: "--onnx", kind: "an ONNX file", extensions: ["onnx"])
    }

    func run() throws {
        let (trainable, card) = try ModelFile.load(model)
        let network: any Classifier = keepBatchNorms ? trainable : try trainable.inferenceModel()
        let size = try ONNXExporter.write(network, card: card, to: onnx)
        print("wrote \(onnx.escapedForOneLine): \(network.architecture), opset \(ONNXExporter.opsetVersion), \(size) bytes")
    }
}
