import Emovere
import EmovereNN
import EmovereONNX
import Foundation
import Testing

/// `emovere export` writes what `ONNXExporter` makes of the model file, and says why when it cannot.
@Suite(.serialized, .enabled(if: CommandRunner.executable != nil, "the emovere executable is not built"))
struct ExportCommandTests {
    static let model = AnalyzeTests.root + "/models/default.safetensors"

    @Test(arguments: [false, true]) func exportWritesTheONNXModel(keepBatchNorms: Bool) throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let output = scratch.path + "/model.onnx"
        let result = try CommandRunner.run(["export", Self.model, "--onnx", output]
            + (keepBatchNorms ? ["--keep-batch-norms"] : []))
        #expect(result.status == 0, "\(result)")
        #expect(result.standardOutput.contains("opset 13"), "\(result)")
        let (trainable, card) = try ModelFile.load(Self.model)
        let model: any Classifier = keepBatchNorms ? trainable : try trainable.inferenceModel()
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(written == (try ONNXExporter.export(model, card: card)))
    }

    /// An output no folder can be made for (below a file) is refused before the export, naming the path; a missing
    /// folder is created.
    @Test func unwritableOutputNamesThePath() throws {
        let below = Self.model + "/model.onnx"
        let result = try CommandRunner.run(["export", Self.model, "--onnx", below])
        #expect(result.status == 64 && result.standardError.contains("--onnx \(below): \(Self.model) is a file"), "\(result)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-export-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let created = try CommandRunner.run(["export", Self.model, "--onnx", folder + "/new/model.onnx"])
        #expect(created.status == 0 && FileManager.default.fileExists(atPath: folder + "/new/model.onnx"), "\(created)")
    }

    @Test func missingOutputOptionIsNamed() throws {
        let result = try CommandRunner.run(["export", Self.model])
        #expect(result.status != 0)
        #expect(result.standardError.contains("--onnx"), "\(result)")
    }
}
