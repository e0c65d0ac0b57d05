import EmovereCore
import EmovereNN
import EmovereTensor
import Foundation
import SwiftProtobuf

/// An ONNX network read into Emovere layers: a `Graph` recipe with its weights, instantiated for each input size.
///
/// The ONNX graph's NCHW tensors become Emovere's NHWC tensors; a `Transpose` to channels-last followed by a
/// `Reshape` to `[N, cells, C]` (how detection heads flatten their maps) is the identity on NHWC memory, so the
/// outputs read as `[N, H * W, C]` row-major cells, as ONNX Runtime returns them.
public struct ONNXGraph: Sendable {
    /// The graph input's name and its channel count (`[1, C, H, W]` in ONNX; `[N, H, W, C]` for Emovere).
    public let inputName: String
    public let inputChannels: Int
    /// The graph outputs' names, in the order of `Graph.forwardAll`'s tensors.
    public let outputNames: [String]
    /// How each output's ONNX tensor maps onto Emovere's: `.image` outputs are NCHW in ONNX and NHWC here, the
    /// others hold the same values in the same order.
    public let outputLayouts: [ValueLayout]
    /// The file the graph was read from.
    public let source: String
    let nodes: [NodeSpecification]
    let outputs: [GraphSource]
    let weights: [String: [Float]]

    /// What one Emovere node is made of, without its (size-dependent) build.
    enum NodeSpecification: Sendable {
        case convolution(name: String, filters: Int, kernelSize: Int, stride: Int, padding: Padding, relu: Bool,
                         input: GraphSource)
        case depthwise(name: String, kernelSize: Int, stride: Int, padding: Padding, relu: Bool, input: GraphSource)
        case maxPool(name: String, poolSize: Int, stride: Int, input: GraphSource)
        case upsample(name: String, factor: Int, input: GraphSource)
        case relu(name: String, input: GraphSource)
        case sigmoid(name: String, input: GraphSource)
        case add(name: String, inputs: [GraphSource])
    }

    /// A graph for inputs `[N, height, width, inputChannels]` with the file's weights; layers carrying a ReLU run
    /// it in their output pass (inference form), and the convolution weights are frozen.
    /// - Throws: ``ModelError`` when the network cannot take that size (e.g. a map shrinks to nothing).
    public func instantiate(height: Int, width: Int) throws(ModelError) -> Graph {
        let graph = try Graph(nodes: nodes.map(\.node), outputs: outputs)
        var random = SplitMix64(seed: 0)
        _ = try graph.build(inputShape: [height, width, inputChannels], random: &random)
        for named in graph.namedParameters {
            guard let values = weights[named.name] else { throw .missingParameter(name: named.name) }
            guard values.count == named.parameter.value.count else {
                throw .parameterShapeMismatch(name: named.name, expected: named.parameter.value.shape, received: [values.count])
            }
            values.withUnsafeBufferPointer { named.parameter.value.pointer.update(from: $0.baseAddress!, count: values.count) }
        }
        graph.freezeConvolutionWeights()
        return graph
    }
}

extension ONNXGraph.NodeSpecification {
    var name: String {
        switch self {
        case let .convolution(name, _, _, _, _, _, _), let .depthwise(name, _, _, _, _, _), let .maxPool(name, _, _, _),
             let .upsample(name, _, _), let .relu(name, _), let .sigmoid(name, _), let .add(name, _):
            name
        }
    }

    /// A fresh, unbuilt node.
    var node: GraphNode {
        switch self {
        case let .convolution(name, filters, kernelSize, stride, padding, relu, input):
            .layer(name, Conv2d(filters: filters, kernelSize: kernelSize, stride: stride, padding: padding,
                                appliesReLU: relu), input: input)
        case let .depthwise(name, kernelSize, stride, padding, relu, input):
            .layer(name, DepthwiseConv2d(kernelSize: kernelSize, stride: stride, padding: padding, usesBias: true,
                                         appliesReLU: relu), input: input)
        case let .maxPool(name, poolSize, stride, input):
            .layer(name, Pool2d.max(poolSize: poolSize, stride: stride), input: input)
        case let .upsample(name, factor, input):
            .layer(name, Upsample2d(factor: factor), input: input)
        case let .relu(name, input):
            .layer(name, ReLU(), input: input)
        case let .sigmoid(name, input):
            .layer(name, Sigmoid(), input: input)
        case let .add(name, inputs):
            GraphNode(name: name, operation: .add, inputs: inputs)
        }
    }
}

/// Reads ONNX files (opset 11 and later) made of the operators in `supportedOperators` into `ONNXGraph`s.
public enum ONNXImporter {
    /// The operators Emovere translates.
    public static let supportedOperators = ["Conv", "Relu", "MaxPool", "Resize", "Add", "Sigmoid", "Transpose", "Reshape"]

    /// The largest factor a `Resize` may enlarge by (detectors' feature pyramids use 2).
    public static let maximumUpsampling = 16

    /// The graph of the ONNX file at `path`.
    /// - Throws: ``ONNXImportError`` naming the file, and the node and operator where one is not supported.
    public static func graph(contentsOf path: String) throws(ONNXImportError) -> ONNXGraph {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.bytes(atPath: path)
        } catch {
            throw .unreadableFile(path: path, reason: error.reason)
        }
        return try graph(bytes: bytes, source: path)
    }

    /// The graph of serialized ONNX `bytes`; `source` names them in errors.
    public static func graph(bytes: [UInt8], source: String) throws(ONNXImportError) -> ONNXGraph {
        guard !bytes.isEmpty else { throw .unreadableFile(path: source, reason: "an empty file, not an ONNX model") }
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: bytes)
        } catch {
            throw .unreadableFile(path: source, reason: "not an ONNX model (\(error))")
        }
        var reader = GraphReader(source: source, graph: model.graph)
        return try reader.read()
    }
}

/// The layout of an ONNX value, as Emovere holds it.
public enum ValueLayout: Sendable, Equatable {
    /// An NCHW image in ONNX, NHWC in Emovere.
    case image
    /// An NHWC tensor in ONNX (an image after `Transpose(0, 2, 3, 1)`): the same memory as Emovere's image.
    case channelsLast
    /// `[N, H * W, C]` cells (a channels-last tensor reshaped): the same memory again.
    case cells
}

/// Translates the nodes of one ONNX graph in order.
private struct GraphReader {
    let source: String
    let graph: Onnx_GraphProto
    var initializers: [String: Onnx_TensorProto] = [:]
    var values: [String: (source: GraphSource, layout: ValueLayout, channels: Int)] = [:]
    var consumers: [String: Int] = [:]
    var nodes: [ONNXGraph.NodeSpecification] = []
    /// The ONNX value each node computes, by node index.
    var nodeOutputs: [String] = []
    var weights: [String: [Float]] = [:]
    var names: Set<String> = []
    var nextSuffix: [String: Int] = [:]

    init(source: String, graph: Onnx_GraphProto) {
        self.source = source
        self.graph = graph
    }

    mutating func read() throws(ONNXImportError) -> ONNXGraph {
        for tensor in graph.initializer { initializers[tensor.name] = tensor }
        let inputs = graph.input.filter { initializers[$0.name] == nil }
        guard inputs.count == 1, let input = inputs.first else {
            throw .invalidModel(path: source, reason: "expected one graph input, found \(inputs.count)")
        }
        let dimensions = input.type.tensorType.shape.dim
        guard dimensions.count == 4, dimensions[1].dimValue > 0 else {
            throw .invalidModel(path: source, reason: "input '\(input.name)' must be [N, C, H, W] with a fixed C")
        }
        let channels = Int(dimensions[1].dimValue)
        values[input.name] = (.input, .image, channels)
        for node in graph.node {
            for name in node.input where !name.isEmpty { consumers[name, default: 0] += 1 }
        }
        for output in graph.output { consumers[output.name, default: 0] += 1 }
        for (index, node) in graph.node.enumerated() {
            try translate(node, index: index)
        }
        var outputs: [GraphSource] = []
        var layouts: [ValueLayout] = []
        for output in graph.output {
            guard let value = values[output.name] else {
                throw .invalidModel(path: source, reason: "graph output '\(output.name)' is not computed by any node")
            }
            outputs.append(value.source)
            layouts.append(value.layout)
        }
        return ONNXGraph(inputName: input.name, inputChannels: channels, outputNames: graph.output.map(\.name),
                         outputLayouts: layouts, source: source, nodes: nodes, outputs: outputs, weights: weights)
    }

    // MARK: - Nodes

    private mutating func translate(_ node: Onnx_NodeProto, index: Int) throws(ONNXImportError) {
        let name = uniqueName(node.name.isEmpty ? "\(node.opType)_\(index)" : node.name)
        guard node.output.count == 1, let output = node.output.first else {
            throw unsupported(node, "outputs", expected: "one output", received: "\(node.output.count)")
        }
        // An attribute the translation does not read would be ignored, changing the result without a word.
        if let known = Self.knownAttributes[node.opType],
           let unknown = node.attribute.first(where: { !known.contains($0.name) }) {
            throw unsupported(node, unknown.name, expected: "only \(known.isEmpty ? "no attributes" : known.sorted().joined(separator: ", "))",
                              received: "an attribute Emovere does not translate")
        }
        switch node.opType {
        case "Conv":
            try convolution(node, name: name, output: output)
        case "Relu":
            let input = try value(node, 0, layout: nil)
            // A ReLU that alone reads a convolution's own output (not a view of it, such as a Transpose, that another
            // node may read beside it) runs in that convolution's output pass.
            if case let .node(producer) = input.source, nodeOutputs[producer] == node.input[0],
               consumers[node.input[0]] == 1, let fused = nodes[producer].fusingReLU() {
                nodes[producer] = fused
                values[output] = input
            } else {
                append(.relu(name: name, input: input.source), output: output, layout: input.layout, channels: input.channels)
            }
        case "Sigmoid":
            let input = try value(node, 0, layout: nil)
            append(.sigmoid(name: name, input: input.source), output: output, layout: input.layout, channels: input.channels)
        case "MaxPool":
            try maxPool(node, name: name, output: output)
        case "Resize":
            try resize(node, name: name, output: output)
        case "Add":
            guard node.input.count == 2 else {
                throw unsupported(node, "inputs", expected: "two inputs", received: "\(node.input.count)")
            }
            let first = try value(node, 0, layout: nil)
            let second = try value(node, 1, layout: first.layout)
            guard first.channels == second.channels else {
                throw unsupported(node, "inputs", expected: "inputs of one shape",
                                  received: "\(first.channels) and \(second.channels) channels")
            }
            append(.add(name: name, inputs: [first.source, second.source]), output: output, layout: first.layout,
                   channels: first.channels)
        case "Transpose":
            let input = try value(node, 0, layout: .image)
            let permutation = ints(node, "perm") ?? []
            guard permutation == [0, 2, 3, 1] else {
                throw unsupported(node, "perm", expected: "[0, 2, 3, 1] (to channels-last)", received: "\(permutation)")
            }
            values[output] = (input.source, .channelsLast, input.channels)
        case "Reshape":
            let input = try value(node, 0, layout: .channelsLast)
            if let allowZero = int(node, "allowzero"), allowZero != 0 {
                throw unsupported(node, "allowzero", expected: "0 (a 0 in the shape copies the input's size)", received: "\(allowZero)")
            }
            let shape = try int64Constant(node, 1)
            let valid = shape.count == 3 && (shape[0] == 1 || shape[0] == -1 || shape[0] == 0)
                && shape[1] == -1 && Int(shape[2]) == input.channels
            guard valid else {
                throw unsupported(node, "shape", expected: "[N, -1, \(input.channels)] (flattening the cells)",
                                  received: "\(shape)")
            }
            values[output] = (input.source, .cells, input.channels)
        default:
            throw .unsupportedOperator(path: source, node: node.name.isEmpty ? name : node.name, operator: node.opType)
        }
    }

    /// The attributes each operator's translation reads or checks (for `Resize`, also those that do not apply to its
    /// nearest, asymmetric, floor mode).
    static let knownAttributes: [String: Set<String>] = [
        "Conv": ["kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"],
        "MaxPool": ["kernel_shape", "strides", "pads", "ceil_mode", "auto_pad", "dilations", "storage_order"],
        "Resize": ["mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
                   "extrapolation_value", "antialias", "keep_aspect_ratio_policy"],
        "Relu": [], "Sigmoid": [], "Add": [], "Transpose": ["perm"], "Reshape": ["allowzero"],
    ]

    private mutating func convolution(_ node: Onnx_NodeProto, name: String, output: String) throws(ONNXImportError) {
        let input = try value(node, 0, layout: .image)
        guard node.input.count >= 2, let kernel = try floatConstant(node, 1) else {
            throw unsupported(node, "W", expected: "a constant kernel", received: "a computed value")
        }
        let shape = kernel.shape
        guard shape.count == 4, shape[2] == shape[3], shape.allSatisfy({ $0 >= 1 }) else {
            throw unsupported(node, "W", expected: "a square [F, C/group, K, K] kernel, each side at least 1",
                              received: "\(shape)")
        }
        let (filters, kernelSize) = (shape[0], shape[2])
        if let declared = ints(node, "kernel_shape"), declared != [kernelSize, kernelSize] {
            throw unsupported(node, "kernel_shape", expected: "the kernel's own [\(kernelSize), \(kernelSize)]", received: "\(declared)")
        }
        let (stride, padding) = try window(node, kernelSize: kernelSize)
        if let dilations = ints(node, "dilations"), dilations.contains(where: { $0 != 1 }) {
            throw unsupported(node, "dilations", expected: "1", received: "\(dilations)")
        }
        let group = int(node, "group") ?? 1
        var bias: [Float]?
        if node.input.count >= 3, !node.input[2].isEmpty {
            guard let constant = try floatConstant(node, 2), constant.values.count == filters else {
                throw unsupported(node, "B", expected: "a constant bias of \(filters) values", received: "another input")
            }
            bias = constant.values
        }
        let biasValues = bias ?? [Float](repeating: 0, count: filters)
        if group == 1 {
            guard shape[1] == input.channels else {
                throw unsupported(node, "W", expected: "\(input.channels) input channels", received: "\(shape)")
            }
            // OIHW -> HWIO.
            weights["\(name).kernel"] = Self.permuted(kernel.values, shape: shape, permutation: [2, 3, 1, 0])
            weights["\(name).bias"] = biasValues
            append(.convolution(name: name, filters: filters, kernelSize: kernelSize, stride: stride, padding: padding,
                                relu: false, input: input.source),
                   output: output, layout: .image, channels: filters)
        } else if group == input.channels && filters == input.channels && shape[1] == 1 {
            // [C, 1, K, K] -> [K, K, C, 1].
            weights["\(name).kernel"] = Self.permuted(kernel.values, shape: shape, permutation: [2, 3, 0, 1])
            weights["\(name).bias"] = biasValues
            append(.depthwise(name: name, kernelSize: kernelSize, stride: stride, padding: padding, relu: false,
                              input: input.source),
                   output: output, layout: .image, channels: filters)
        } else {
            throw unsupported(node, "group", expected: "1 or the channel count (depthwise, one filter per channel)",
                              received: "\(group) with kernel \(shape) on \(input.channels) channels")
        }
    }

    private mutating func maxPool(_ node: Onnx_NodeProto, name: String, output: String) throws(ONNXImportError) {
        let input = try value(node, 0, layout: .image)
        guard let kernel = ints(node, "kernel_shape"), kernel.count == 2, kernel[0] == kernel[1], kernel[0] >= 1 else {
            throw unsupported(node, "kernel_shape", expected: "a square window of at least 1 pixel",
                              received: "\(ints(node, "kernel_shape") ?? [])")
        }
        if let ceil = int(node, "ceil_mode"), ceil != 0 {
            throw unsupported(node, "ceil_mode", expected: "0", received: "\(ceil)")
        }
        if let autoPad = string(node, "auto_pad"), autoPad != "NOTSET" {
            throw unsupported(node, "auto_pad", expected: "NOTSET (explicit pads)", received: autoPad)
        }
        if let dilations = ints(node, "dilations"), dilations.contains(where: { $0 != 1 }) {
            throw unsupported(node, "dilations", expected: "1", received: "\(dilations)")
        }
        if let order = int(node, "storage_order"), order != 0 {
            throw unsupported(node, "storage_order", expected: "0 (no index output)", received: "\(order)")
        }
        if let pads = ints(node, "pads"), pads.contains(where: { $0 != 0 }) {
            throw unsupported(node, "pads", expected: "no padding", received: "\(pads)")
        }
        let strides = ints(node, "strides") ?? [1, 1]
        guard strides.count == 2, strides[0] == strides[1], strides[0] >= 1 else {
            throw unsupported(node, "strides", expected: "equal strides", received: "\(strides)")
        }
        append(.maxPool(name: name, poolSize: kernel[0], stride: strides[0], input: input.source), output: output,
               layout: .image, channels: input.channels)
    }

    private mutating func resize(_ node: Onnx_NodeProto, name: String, output: String) throws(ONNXImportError) {
        let input = try value(node, 0, layout: .image)
        let expectations = [("mode", "nearest"), ("coordinate_transformation_mode", "asymmetric"), ("nearest_mode", "floor")]
        for (attribute, expected) in expectations {
            let received = string(node, attribute) ?? "(default)"
            guard received == expected else {
                throw unsupported(node, attribute, expected: "'\(expected)'", received: "'\(received)'")
            }
        }
        guard node.input.count >= 3, let scales = try floatConstant(node, 2), scales.values.count == 4 else {
            throw unsupported(node, "scales", expected: "four constant scales", received: "none (sizes are not imported)")
        }
        let factor = scales.values[2]
        guard scales.values[0] == 1, scales.values[1] == 1, scales.values[3] == factor, factor >= 1,
              factor <= Float(ONNXImporter.maximumUpsampling), factor == factor.rounded() else {
            throw unsupported(node, "scales", expected: "[1, 1, k, k] with a whole k from 1 to \(ONNXImporter.maximumUpsampling)",
                              received: "\(scales.values)")
        }
        append(.upsample(name: name, factor: Int(factor), input: input.source), output: output, layout: .image,
               channels: input.channels)
    }

    // MARK: - Values, attributes, constants

    private mutating func append(_ specification: ONNXGraph.NodeSpecification, output: String, layout: ValueLayout,
                                 channels: Int) {
        nodes.append(specification)
        nodeOutputs.append(output)
        values[output] = (.node(nodes.count - 1), layout, channels)
    }

    /// `proposed` (its dots made underscores), or with the first free suffix `_2`, `_3`, ... when taken; each base
    /// name's next suffix is kept, so a file of many nodes of one name is named in linear time.
    private mutating func uniqueName(_ proposed: String) -> String {
        let base = proposed.replacingOccurrences(of: ".", with: "_")
        var name = base
        var counter = nextSuffix[base, default: 2]
        while !names.insert(name).inserted {
            name = "\(base)_\(counter)"
            counter += 1
        }
        nextSuffix[base] = counter
        return name
    }

    private func value(_ node: Onnx_NodeProto, _ position: Int, layout: ValueLayout?)
        throws(ONNXImportError) -> (source: GraphSource, layout: ValueLayout, channels: Int) {
        guard position < node.input.count, let found = values[node.input[position]] else {
            let name = position < node.input.count ? node.input[position] : "(missing)"
            throw .invalidModel(path: source, reason: "node '\(node.name)' (\(node.opType)) reads '\(name)', which no "
                                    + "earlier node or graph input computes")
        }
        if let layout, found.layout != layout {
            throw unsupported(node, "input layout", expected: "\(layout)", received: "\(found.layout)")
        }
        return found
    }

    private func unsupported(_ node: Onnx_NodeProto, _ attribute: String, expected: String, received: String)
        -> ONNXImportError {
        .unsupportedAttribute(path: source, node: node.name, operator: node.opType, attribute: attribute,
                              expected: expected, received: received)
    }

    private func attribute(_ node: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? {
        node.attribute.first { $0.name == name }
    }

    private func int(_ node: Onnx_NodeProto, _ name: String) -> Int? {
        attribute(node, name).map { Int($0.i) }
    }

    private func ints(_ node: Onnx_NodeProto, _ name: String) -> [Int]? {
        attribute(node, name).map { $0.ints.map { Int($0) } }
    }

    private func string(_ node: Onnx_NodeProto, _ name: String) -> String? {
        attribute(node, name).map { String(decoding: $0.s, as: UTF8.self) }
    }

    /// Stride and padding of a square window: equal strides, no `auto_pad`, pads all 0 or all `(K - 1) / 2`.
    private func window(_ node: Onnx_NodeProto, kernelSize: Int) throws(ONNXImportError) -> (Int, Padding) {
        if let autoPad = string(node, "auto_pad"), autoPad != "NOTSET" {
            throw unsupported(node, "auto_pad", expected: "NOTSET (explicit pads)", received: autoPad)
        }
        let strides = ints(node, "strides") ?? [1, 1]
        guard strides.count == 2, strides[0] == strides[1], strides[0] >= 1 else {
            throw unsupported(node, "strides", expected: "equal strides", received: "\(strides)")
        }
        let pads = ints(node, "pads") ?? [0, 0, 0, 0]
        if pads.allSatisfy({ $0 == 0 }) { return (strides[0], .valid) }
        if kernelSize % 2 == 1, pads.count == 4, pads.allSatisfy({ $0 == (kernelSize - 1) / 2 }) {
            return (strides[0], .symmetric)
        }
        throw unsupported(node, "pads", expected: "all 0 or all \((kernelSize - 1) / 2)", received: "\(pads)")
    }

    private func floatConstant(_ node: Onnx_NodeProto, _ position: Int)
        throws(ONNXImportError) -> (shape: [Int], values: [Float])? {
        guard position < node.input.count, let tensor = initializers[node.input[position]] else { return nil }
        guard tensor.dataType == Int32(Onnx_TensorProto.DataType.float.rawValue) else {
            throw unsupported(node, "tensor \(tensor.name)", expected: "float32", received: "data type \(tensor.dataType)")
        }
        try checkStoredInside(tensor)
        let shape = tensor.dims.map { Int($0) }
        // Dimensions from the file: checked before any arithmetic on them can overflow.
        let count = shape.reduce(Optional(1)) { product, dimension in
            guard let product, dimension >= 0 else { return nil }
            let (result, overflow) = product.multipliedReportingOverflow(by: dimension)
            return overflow || result > Int.max / 4 ? nil : result
        }
        guard let count else {
            throw .invalidModel(path: source, reason: "tensor '\(tensor.name)' has dimensions \(shape), expected sizes of 0 or more whose product fits in memory")
        }
        let values: [Float]
        if !tensor.rawData.isEmpty {
            guard tensor.rawData.count == count * 4 else {
                throw .invalidModel(path: source, reason: "tensor '\(tensor.name)' holds \(tensor.rawData.count) bytes "
                                        + "for shape \(shape) (expected \(count * 4))")
            }
            values = tensor.rawData.withUnsafeBytes { raw in
                (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
        } else {
            guard tensor.floatData.count == count else {
                throw .invalidModel(path: source, reason: "tensor '\(tensor.name)' holds \(tensor.floatData.count) "
                                        + "values for shape \(shape)")
            }
            values = tensor.floatData
        }
        // A flipped byte can make a weight NaN or huge, which the detector would turn into no face, silently.
        if let index = values.firstIndex(where: { !(abs($0) <= Parameter.largestStoredValue) }) {
            throw .invalidModel(path: source, reason: "tensor '\(tensor.name)' holds \(values[index]) at index \(index); "
                                    + "expected finite weights of at most \(Parameter.largestStoredValue) in magnitude")
        }
        return (shape, values)
    }

    /// Throws for a tensor whose values lie in another file (ONNX external data), which is not read.
    private func checkStoredInside(_ tensor: Onnx_TensorProto) throws(ONNXImportError) {
        guard tensor.dataLocation != .external && tensor.externalData.isEmpty else {
            throw .invalidModel(path: source, reason: "tensor '\(tensor.name)' keeps its values in an external file, "
                                    + "expected them inside the model file (save it without external data)")
        }
    }

    private func int64Constant(_ node: Onnx_NodeProto, _ position: Int) throws(ONNXImportError) -> [Int64] {
        guard position < node.input.count, let tensor = initializers[node.input[position]],
              tensor.dataType == Int32(Onnx_TensorProto.DataType.int64.rawValue) else {
            throw unsupported(node, "input \(position)", expected: "a constant int64 tensor", received: "a computed value")
        }
        try checkStoredInside(tensor)
        if tensor.rawData.isEmpty { return tensor.int64Data }
        guard tensor.rawData.count % 8 == 0 else {
            throw .invalidModel(path: source, reason: "tensor '\(tensor.name)' holds \(tensor.rawData.count) bytes, "
                                    + "expected a multiple of 8 (int64 values)")
        }
        return tensor.rawData.withUnsafeBytes { raw in
            (0..<(raw.count / 8)).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        }
    }

    /// `values` of a row-major tensor of `shape` with its axes reordered (axis `i` of the result is axis
    /// `permutation[i]` of the source).
    static func permuted(_ values: [Float], shape: [Int], permutation: [Int]) -> [Float] {
        GraphBuilder.permuted(values, shape: shape, permutation: permutation)
    }
}

extension ONNXGraph.NodeSpecification {
    /// The same convolution running a ReLU in its output pass; nil for other nodes or one that already does.
    func fusingReLU() -> Self? {
        switch self {
        case let .convolution(name, filters, kernelSize, stride, padding, false, input):
            .convolution(name: name, filters: filters, kernelSize: kernelSize, stride: stride, padding: padding,
                         relu: true, input: input)
        case let .depthwise(name, kernelSize, stride, padding, false, input):
            .depthwise(name: name, kernelSize: kernelSize, stride: stride, padding: padding, relu: true, input: input)
        default:
            nil
        }
    }
}
