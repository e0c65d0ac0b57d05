import EmovereCore
import EmovereNN
import EmovereTensor
import Foundation
import Testing

@testable import EmovereONNX

/// ONNX import: every operator against ONNX Runtime on random input, the whole YuNet graph, and the errors.
@Suite(.serialized)
struct ONNXImportTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let yunet = root + "/models/face_detection_yunet_2026may.onnx"

    /// Runs `model.onnx` on `input.f32` (`[1, C, H, W]`) and writes each output as `<name>.f32`.
    static let runtimeScript = """
        import sys
        try:
            import numpy as np, onnxruntime as ort
        except ImportError as error:
            print(error, file=sys.stderr); sys.exit(3)
        folder = sys.argv[1]
        shape = [int(v) for v in sys.argv[2:]]
        options = ort.SessionOptions(); options.intra_op_num_threads = 1
        session = ort.InferenceSession(folder + "/model.onnx", options, providers=["CPUExecutionProvider"])
        x = np.fromfile(folder + "/input.f32", dtype="<f4").reshape(shape)
        names = [o.name for o in session.get_outputs()]
        for name, y in zip(names, session.run(names, {session.get_inputs()[0].name: x})):
            y.astype("<f4").tofile(folder + "/" + name + ".f32")
            print(name)
        """

    /// The outputs of `graph` and of ONNX Runtime on the same random `[1, channels, height, width]` input (in
    /// `range`: pixels by default), compared element by element: each output's worst error relative to
    /// max(1, |reference|).
    static func worstErrors(model: [UInt8], graph: ONNXGraph, height: Int, width: Int, seed: UInt64 = 3,
                            range: ClosedRange<Float> = 0...255) throws -> [String: Float] {
        let channels = graph.inputChannels
        var random = SplitMix64(seed: seed)
        let nhwc = (0..<(height * width * channels)).map { _ in random.nextFloat(in: range) }
        var nchw = [Float](repeating: 0, count: nhwc.count)
        for y in 0..<height { for x in 0..<width { for c in 0..<channels {
            nchw[(c * height + y) * width + x] = nhwc[(y * width + x) * channels + c]
        } } }
        let (printed, written) = try PythonOracle.run(
            script: runtimeScript, files: ["model.onnx": Data(model), "input.f32": PythonOracle.data(nchw)],
            arguments: ["{folder}", "1", "\(channels)", "\(height)", "\(width)"],
            outputs: graph.outputNames.map { $0 + ".f32" })
        let instance = try graph.instantiate(height: height, width: width)
        let outputs = instance.forwardAll(Tensor(shape: [1, height, width, channels], values: nhwc), mode: .inference)
        var errors: [String: Float] = [:]
        for (index, name) in graph.outputNames.enumerated() {
            var reference = PythonOracle.floats(try #require(written[name + ".f32"]))
            let ours = outputs[index].values
            if graph.outputLayouts[index] == .image {
                // ONNX Runtime's NCHW image, reordered to Emovere's NHWC.
                let shape = outputs[index].shape
                reference = GraphBuilder.permuted(reference, shape: [shape[0], shape[3], shape[1], shape[2]],
                                                  permutation: [0, 2, 3, 1])
            }
            #expect(ours.count == reference.count, "\(name): \(ours.count) values, ONNX Runtime \(reference.count)")
            // NaN on either side is an infinite error (`max` alone would skip it).
            errors[name] = zip(ours, reference).map { $0.isNaN || $1.isNaN ? .infinity : abs($0 - $1) / max(1, abs($1)) }
                .max() ?? .infinity
        }
        #expect(printed.split(separator: "\n").map(String.init) == graph.outputNames)
        return errors
    }

    @Test func yunetAgreesWithOnnxRuntime() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.yunet)))
        let graph = try ONNXImporter.graph(bytes: bytes, source: Self.yunet)
        #expect(graph.inputChannels == 3 && graph.outputNames.count == 12)
        for (height, width) in [(64, 96), (96, 64)] {
            let errors = try Self.worstErrors(model: bytes, graph: graph, height: height, width: width)
            #expect(errors.values.allSatisfy { $0 < 1e-4 }, "\(height)x\(width): \(errors)")
        }
    }

    /// One-operator (or two: a layout change) models built with the exporter's graph builder.
    static func model(channels: Int, build: (inout GraphBuilder) -> String) throws -> [UInt8] {
        var builder = GraphBuilder()
        let output = build(&builder)
        return try serialized(builder.graph, channels: channels, outputs: [output])
    }

    /// `graph` as a model file: the input `x` `[1, channels, h, w]`, and `outputs`.
    static func serialized(_ graph: Onnx_GraphProto, channels: Int, outputs: [String]) throws -> [UInt8] {
        var graph = graph
        graph.input = [GraphBuilder.valueInfo("x", dimensions: [.fixed(1), .fixed(channels), .symbolic("h"), .symbolic("w")])]
        graph.output = outputs.map { GraphBuilder.valueInfo($0, dimensions: []) }
        var model = Onnx_ModelProto()
        model.irVersion = 7
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 13
        model.opsetImport = [opset]
        model.graph = graph
        return try model.serializedBytes()
    }

    static func weights(_ count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in random.nextFloat(in: -0.5...0.5) }
    }

    nonisolated(unsafe) static let operatorCases: [(String, Int, (inout GraphBuilder) -> String)] = [
        ("Conv 3x3 stride 2 pads 1", 3, { b in
            let w = b.addInitializer("w", shape: [5, 3, 3, 3], values: weights(135, seed: 1))
            let bias = b.addInitializer("b", shape: [5], values: weights(5, seed: 2))
            return b.addNode("Conv", name: "conv", inputs: ["x", w, bias], attributes: [
                .init("kernel_shape", ints: [3, 3]), .init("strides", ints: [2, 2]), .init("pads", ints: [1, 1, 1, 1])])
        }),
        ("Conv 1x1 and Relu (fused)", 4, { b in
            let w = b.addInitializer("w", shape: [6, 4, 1, 1], values: weights(24, seed: 3))
            let conv = b.addNode("Conv", name: "conv", inputs: ["x", w], attributes: [.init("kernel_shape", ints: [1, 1])])
            return b.addNode("Relu", name: "relu", inputs: [conv])
        }),
        // The Relu reads the convolution's output through a Transpose, and the Sigmoid reads it too: fused into the
        // convolution, the Relu clipped what the Sigmoid saw.
        ("Relu of a transposed Conv read twice (not fused)", 3, { b in
            let w = b.addInitializer("w", shape: [4, 3, 1, 1], values: weights(12, seed: 9))
            let conv = b.addNode("Conv", name: "conv", inputs: ["x", w], attributes: [.init("kernel_shape", ints: [1, 1])])
            let transposed = b.addNode("Transpose", name: "t", inputs: [conv], attributes: [.init("perm", ints: [0, 2, 3, 1])])
            let clipped = b.addNode("Relu", name: "relu", inputs: [transposed])
            let squashed = b.addNode("Sigmoid", name: "sigmoid", inputs: [conv])
            let other = b.addNode("Transpose", name: "t2", inputs: [squashed], attributes: [.init("perm", ints: [0, 2, 3, 1])])
            return b.addNode("Add", name: "sum", inputs: [clipped, other])
        }),
        ("depthwise Conv 3x3 with bias", 4, { b in
            let w = b.addInitializer("w", shape: [4, 1, 3, 3], values: weights(36, seed: 4))
            let bias = b.addInitializer("b", shape: [4], values: weights(4, seed: 5))
            return b.addNode("Conv", name: "dw", inputs: ["x", w, bias], attributes: [
                .init("kernel_shape", ints: [3, 3]), .init("pads", ints: [1, 1, 1, 1]), .init("group", int: 4)])
        }),
        ("Relu", 2, { b in b.addNode("Relu", name: "relu", inputs: ["x"]) }),
        ("MaxPool 2x2", 3, { b in
            b.addNode("MaxPool", name: "pool", inputs: ["x"], attributes: [
                .init("kernel_shape", ints: [2, 2]), .init("strides", ints: [2, 2])])
        }),
        ("Resize nearest x2", 2, { b in
            let scales = b.addInitializer("scales", shape: [4], values: [1, 1, 2, 2])
            return b.addNode("Resize", name: "up", inputs: ["x", "", scales], attributes: [
                .init("mode", string: "nearest"), .init("coordinate_transformation_mode", string: "asymmetric"),
                .init("nearest_mode", string: "floor")])
        }),
        ("Add with fan-out", 3, { b in
            let relu = b.addNode("Relu", name: "relu", inputs: ["x"])
            return b.addNode("Add", name: "add", inputs: ["x", relu])
        }),
        ("Sigmoid", 2, { b in b.addNode("Sigmoid", name: "sigmoid", inputs: ["x"]) }),
        ("Transpose and Reshape to cells", 3, { b in
            let shape = b.addInt64Initializer("shape", values: [1, -1, 3])
            let last = b.addNode("Transpose", name: "t", inputs: ["x"], attributes: [.init("perm", ints: [0, 2, 3, 1])])
            return b.addNode("Reshape", name: "r", inputs: [last, shape])
        }),
    ]

    @Test(arguments: 0..<operatorCases.count)
    func operatorAgreesWithOnnxRuntime(index: Int) throws {
        let (name, channels, build) = Self.operatorCases[index]
        let bytes = try Self.model(channels: channels, build: build)
        let graph = try ONNXImporter.graph(bytes: bytes, source: name)
        // Negative inputs too: on pixels alone a Relu imported as the identity passed, and a Sigmoid saw only 1.
        let errors = try Self.worstErrors(model: bytes, graph: graph, height: 8, width: 12, seed: UInt64(index) + 10,
                                          range: -8...8)
        #expect(errors.values.allSatisfy { $0 < 1e-4 }, "\(name): \(errors)")
    }

    @Test func unsupportedOperatorNamesTheNodeAndOperator() throws {
        let bytes = try Self.model(channels: 2) { b in b.addNode("Softmax", name: "head/softmax", inputs: ["x"]) }
        #expect(throws: ONNXImportError.unsupportedOperator(path: "m.onnx", node: "head/softmax", operator: "Softmax")) {
            try ONNXImporter.graph(bytes: bytes, source: "m.onnx")
        }
        let error = ONNXImportError.unsupportedOperator(path: "m.onnx", node: "head/softmax", operator: "Softmax")
        #expect(error.description.contains("m.onnx") && error.description.contains("head/softmax")
                && error.description.contains("Softmax"))
    }

    @Test func unsupportedAttributesNameTheNodeAndAttribute() throws {
        let dilated = try Self.model(channels: 2) { b in
            let w = b.addInitializer("w", shape: [2, 2, 3, 3], values: Self.weights(36, seed: 6))
            return b.addNode("Conv", name: "conv7", inputs: ["x", w], attributes: [
                .init("kernel_shape", ints: [3, 3]), .init("dilations", ints: [2, 2])])
        }
        #expect {
            try ONNXImporter.graph(bytes: dilated, source: "d.onnx")
        } throws: { error in
            guard case let .unsupportedAttribute(path, node, operation, attribute, _, _)? = error as? ONNXImportError
            else { return false }
            return path == "d.onnx" && node == "conv7" && operation == "Conv" && attribute == "dilations"
        }
        let linear = try Self.model(channels: 2) { b in
            let scales = b.addInitializer("scales", shape: [4], values: [1, 1, 2, 2])
            return b.addNode("Resize", name: "up", inputs: ["x", "", scales], attributes: [.init("mode", string: "linear")])
        }
        #expect(throws: ONNXImportError.self) { try ONNXImporter.graph(bytes: linear, source: "l.onnx") }
        // Attributes that were ignored: auto_pad SAME_UPPER made a 15x15 pooling of ONNX Runtime's 16x16, and one no
        // translation reads.
        let samePool = try Self.model(channels: 2) { b in
            b.addNode("MaxPool", name: "pool", inputs: ["x"], attributes: [
                .init("kernel_shape", ints: [3, 3]), .init("strides", ints: [2, 2]), .init("auto_pad", string: "SAME_UPPER")])
        }
        let unknown = try Self.model(channels: 2) { b in
            b.addNode("Relu", name: "relu", inputs: ["x"], attributes: [.init("alpha", ints: [1])])
        }
        for (bytes, node, attribute) in [(samePool, "pool", "auto_pad"), (unknown, "relu", "alpha")] {
            #expect {
                try ONNXImporter.graph(bytes: bytes, source: "a.onnx")
            } throws: { error in
                guard case let .unsupportedAttribute(_, found, _, name, _, _)? = error as? ONNXImportError else { return false }
                return found == node && name == attribute
            }
        }
    }

    /// Damage a fuzzer made to YuNet's file: a window or kernel of no pixels (a 0x0 pool crashed the process), and
    /// weights that are NaN or beyond any trained network's (the detector then found no face, silently).
    @Test func emptyWindowsAndDamagedWeightsAreRefused() throws {
        let emptyPool = try Self.model(channels: 2) { b in
            b.addNode("MaxPool", name: "pool", inputs: ["x"], attributes: [.init("kernel_shape", ints: [0, 0])])
        }
        let emptyKernel = try Self.model(channels: 2) { b in
            let w = b.addInitializer("w", shape: [2, 2, 0, 0], values: [])
            return b.addNode("Conv", name: "conv", inputs: ["x", w], attributes: [.init("pads", ints: [1, 1, 1, 1])])
        }
        for (bytes, attribute) in [(emptyPool, "kernel_shape"), (emptyKernel, "W")] {
            #expect {
                try ONNXImporter.graph(bytes: bytes, source: "e.onnx")
            } throws: { error in
                guard case let .unsupportedAttribute(_, _, _, found, _, _)? = error as? ONNXImportError else { return false }
                return found == attribute
            }
        }
        for damaged in [Float.nan, 3e38, -Float.infinity] {
            let bytes = try Self.model(channels: 2) { b in
                var values = Self.weights(8, seed: 7)
                values[5] = damaged
                let w = b.addInitializer("w", shape: [4, 2, 1, 1], values: values)
                return b.addNode("Conv", name: "conv", inputs: ["x", w], attributes: [.init("kernel_shape", ints: [1, 1])])
            }
            #expect {
                try ONNXImporter.graph(bytes: bytes, source: "w.onnx")
            } throws: { error in
                "\(error)".contains("tensor 'w' holds \(damaged) at index 5")
            }
        }
        #expect {
            try ONNXImporter.graph(bytes: [], source: "empty.onnx")
        } throws: { error in
            "\(error)".contains("empty.onnx") && "\(error)".contains("an empty file")
        }
    }

    /// Sizes from a hostile file: dimensions whose product overflows or that are negative (they trapped), and a Resize
    /// enlarging a million times (the first detection asked for 10^15 values), are refused naming the tensor or node.
    @Test func impossibleSizesAreRefused() throws {
        for dimensions: [Int64] in [[4_294_967_296, 4_294_967_296], [1 << 31, 1 << 31], [-1, 4]] {
            let valid = try Self.model(channels: 2) { b in
                let w = b.addInitializer("w", shape: [2, 2, 1, 1], values: [1, 0, 0, 1])
                return b.addNode("Conv", name: "conv", inputs: ["x", w], attributes: [.init("kernel_shape", ints: [1, 1])])
            }
            var model = try Onnx_ModelProto(serializedBytes: valid)
            let index = try #require(model.graph.initializer.firstIndex { $0.name == "w" })
            model.graph.initializer[index].dims = dimensions
            let bytes: [UInt8] = try model.serializedBytes()
            #expect {
                try ONNXImporter.graph(bytes: bytes, source: "h.onnx")
            } throws: { error in
                "\(error)".contains("h.onnx") && "\(error)".contains("tensor 'w' has dimensions")
            }
        }
        for factor: Float in [17, 1e6] {
            let bytes = try Self.model(channels: 2) { b in
                let scales = b.addInitializer("scales", shape: [4], values: [1, 1, factor, factor])
                return b.addNode("Resize", name: "up", inputs: ["x", "", scales], attributes: [
                    .init("mode", string: "nearest"), .init("coordinate_transformation_mode", string: "asymmetric"),
                    .init("nearest_mode", string: "floor")])
            }
            #expect {
                try ONNXImporter.graph(bytes: bytes, source: "r.onnx")
            } throws: { error in
                guard case let .unsupportedAttribute(_, node, _, attribute, _, _)? = error as? ONNXImportError else { return false }
                return node == "up" && attribute == "scales"
            }
        }
    }

    /// Resizes chained past memory (each allowed alone; 15 of them overflowed `Int` and trapped, 5 asked the first
    /// detection for 10^15 values) are refused when the graph is built for a size, naming the node.
    @Test func graphsEnlargingPastMemoryAreRefusedWhenBuilt() throws {
        for count in [5, 15] {
            let bytes = try Self.model(channels: 1) { b in
                let scales = b.addInitializer("scales", shape: [4], values: [1, 1, 16, 16])
                var value = "x"
                for index in 0..<count {
                    value = b.addNode("Resize", name: "up\(index)", inputs: [value, "", scales], attributes: [
                        .init("mode", string: "nearest"), .init("coordinate_transformation_mode", string: "asymmetric"),
                        .init("nearest_mode", string: "floor")])
                }
                return value
            }
            let graph = try ONNXImporter.graph(bytes: bytes, source: "big.onnx")
            #expect(throws: ModelError.invalidShape(
                layer: "up2", expected: "at most \(Graph.maximumElementsPerExample) values per example for the input [32, 32, 1]",
                received: [131_072, 131_072, 1])) {
                try graph.instantiate(height: 32, width: 32)
            }
        }
        var random = SplitMix64(seed: 1)
        #expect(throws: ModelError.self) { try Upsample2d(factor: 16).build(inputShape: [1 << 60, 1, 1], random: &random) }
    }

    /// An int64 constant of a length no whole number of values (it was cut silently), and tensors whose values lie in
    /// another file (read as holding no values), are refused naming the tensor.
    @Test func constantsOfAWrongLengthOrInAnotherFileAreRefused() throws {
        let valid = try Self.model(channels: 3) { b in
            let shape = b.addInt64Initializer("shape", values: [1, -1, 3])
            let last = b.addNode("Transpose", name: "t", inputs: ["x"], attributes: [.init("perm", ints: [0, 2, 3, 1])])
            return b.addNode("Reshape", name: "r", inputs: [last, shape])
        }
        _ = try ONNXImporter.graph(bytes: valid, source: "valid.onnx")
        let model = try Onnx_ModelProto(serializedBytes: valid)
        let index = try #require(model.graph.initializer.firstIndex { $0.name == "shape" })
        var cut = model
        cut.graph.initializer[index].int64Data = []
        cut.graph.initializer[index].rawData = Data(repeating: 0, count: 23)
        var external = model
        external.graph.initializer[index].dataLocation = .external
        for (damaged, expected) in [(cut, "tensor 'shape' holds 23 bytes, expected a multiple of 8"),
                                    (external, "tensor 'shape' keeps its values in an external file")] {
            let bytes: [UInt8] = try damaged.serializedBytes()
            #expect {
                try ONNXImporter.graph(bytes: bytes, source: "c.onnx")
            } throws: { error in
                "\(error)".contains("c.onnx") && "\(error)".contains(expected)
            }
        }
    }

    @Test func bytesThatAreNotOnnxAreAnErrorNamingTheFile() throws {
        #expect {
            try ONNXImporter.graph(bytes: Array("hello, not a model".utf8), source: "notes.onnx")
        } throws: { error in
            guard case let .unreadableFile(path, _)? = error as? ONNXImportError else { return false }
            return path == "notes.onnx"
        }
        #expect(throws: ONNXImportError.self) { try ONNXImporter.graph(contentsOf: "/nonexistent/yunet.onnx") }
    }
}
