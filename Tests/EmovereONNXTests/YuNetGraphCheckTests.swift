import Emovere
import EmovereVision
import Foundation
import Testing

@testable import EmovereONNX

/// What `YuNetDetector` checks of an imported graph before it detects: YuNet's outputs, with YuNet's maps at every
/// size detection can run at.
struct YuNetGraphCheckTests {
    /// A graph with YuNet's twelve outputs, each a 1x1 convolution of the input pooled to its stride's map; with
    /// `oddStride`, `cls_32` adds a second pooling of the input at that stride, whose map matches at some sizes only.
    static func yunetShaped(oddStride: Int?) throws -> ONNXGraph {
        var builder = GraphBuilder()
        func pool(_ input: String, _ stride: Int, _ name: String) -> String {
            builder.addNode("MaxPool", name: name, inputs: [input], attributes: [
                .init("kernel_shape", ints: [1, 1]), .init("strides", ints: [stride, stride])])
        }
        var outputs: [String] = []
        for (head, channels) in [("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10)] {
            for stride in [8, 16, 32] {
                let name = "\(head)_\(stride)"
                let weights = builder.addInitializer("\(name)_w", shape: [channels, 3, 1, 1],
                                                     values: ONNXImportTests.weights(3 * channels, seed: UInt64(stride)))
                let conv = builder.addNode("Conv", name: "\(name)_conv", inputs: ["x", weights],
                                           attributes: [.init("kernel_shape", ints: [1, 1])])
                if let oddStride, name == "cls_32" {
                    let even = pool(conv, stride, "\(name)_even")
                    let odd = pool(conv, oddStride, "\(name)_odd")
                    outputs.append(builder.addNode("Add", name: name, inputs: [even, odd], output: name))
                } else {
                    outputs.append(builder.addNode("MaxPool", name: name, inputs: [conv], attributes: [
                        .init("kernel_shape", ints: [1, 1]), .init("strides", ints: [stride, stride])], output: name))
                }
            }
        }
        let bytes = try ONNXImportTests.serialized(builder.graph, channels: 3, outputs: outputs)
        return try ONNXImporter.graph(bytes: bytes, source: "shaped.onnx")
    }

    @Test func aGraphWithYuNetsMapsDetects() throws {
        let detector = try YuNetDetector(network: try Self.yunetShaped(oddStride: nil))
        _ = detector.detect(in: RGBImage(width: 200, height: 150, pixels: [UInt8](repeating: 90, count: 200 * 150 * 3)))
    }

    /// Maps pooled by 32 and by 40 meet at inputs of 32, 64, 96 and 128 pixels but not at 160: such a graph passed the
    /// old check at 32x32 and 96x64, then stopped the process at the first photo padded to 160 pixels or more.
    @Test func aGraphWhoseMapsMeetYuNetsAtSomeSizesOnlyIsRefused() throws {
        #expect {
            try YuNetDetector(network: try Self.yunetShaped(oddStride: 40))
        } throws: { error in
            guard case let .notYuNet(path, reason)? = error as? YuNetError else { return false }
            return path == "shaped.onnx" && reason.contains("160x160")
        }
    }
}
