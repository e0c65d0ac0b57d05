import EmovereCore
import EmovereTensor

/// Where a graph node reads a value: the container's input or the output of an earlier node.
public enum GraphSource: Hashable, Sendable {
    case input
    case node(Int)
}

/// One step of a layer graph: a layer applied to one value, or the sum of several.
public struct GraphNode {
    /// What a node computes.
    public enum Operation {
        /// A layer (which may itself be a container) applied to the node's single input.
        case layer(any Layer)
        /// The elementwise sum of the node's inputs (two or more, all of one shape).
        case add
    }

    /// The node's name; parameters of a layer node are named `"<name>.<parameter>"`.
    public let name: String
    public let operation: Operation
    /// The values the node reads, each the container's input or an earlier node.
    public let inputs: [GraphSource]

    public init(name: String, operation: Operation, inputs: [GraphSource]) {
        self.name = name
        self.operation = operation
        self.inputs = inputs
    }

    /// A layer node reading `input`.
    public static func layer(_ name: String, _ layer: any Layer, input: GraphSource) -> GraphNode {
        GraphNode(name: name, operation: .layer(layer), inputs: [input])
    }
}

/// A layer made of other layers and described as a graph of named nodes in evaluation order.
///
/// `Sequential`, `Residual` and `Graph` all describe themselves this way, so the code that walks networks (the
/// ONNX exporter, `bench --layers`, parameter naming) handles every container through `walk` and never needs to
/// know which kind it has.
public protocol LayerGraph: Layer {
    /// The nodes in evaluation order; every input refers to the container's input or an earlier node.
    var nodes: [GraphNode] { get }
    /// The values the container returns; `forward` returns the first.
    var outputs: [GraphSource] { get }
}

extension LayerGraph {
    /// Evaluates the graph over values of any kind (tensors, ONNX value names, shapes): `layer` maps a layer node's
    /// input value to its output value, `add` maps the values of a sum node's inputs. Returns the `outputs`' values.
    public func walk<Value, Failure: Error>(
        input: Value,
        layer: (_ index: Int, _ node: GraphNode, _ layer: any Layer, _ input: Value) throws(Failure) -> Value,
        add: (_ index: Int, _ node: GraphNode, _ inputs: [Value]) throws(Failure) -> Value
    ) throws(Failure) -> [Value] {
        var values: [Value] = []
        values.reserveCapacity(nodes.count)
        func value(_ source: GraphSource) -> Value {
            switch source {
            case .input: input
            case let .node(index): values[index]
            }
        }
        for (index, node) in nodes.enumerated() {
            switch node.operation {
            case let .layer(child):
                values.append(try layer(index, node, child, value(node.inputs[0])))
            case .add:
                values.append(try add(index, node, node.inputs.map(value)))
            }
        }
        return outputs.map(value)
    }

    /// The parameters of every layer node, named `"<node name>.<parameter name>"`.
    public var nodeParameters: [NamedParameter] {
        nodes.flatMap { node -> [NamedParameter] in
            guard case let .layer(layer) = node.operation else { return [] }
            return layer.namedParameters.map { NamedParameter(name: "\(node.name).\($0.name)", parameter: $0.parameter) }
        }
    }

    /// Every layer inside this container, depth first, each nested container before its own layers.
    public var nestedLayers: [any Layer] {
        nodes.flatMap { node -> [any Layer] in
            guard case let .layer(layer) = node.operation else { return [] }
            return [layer] + ((layer as? any LayerGraph)?.nestedLayers ?? [])
        }
    }

    /// Freezes every convolution's weights inside this container (`Conv2d.freezeWeights(precision:)`): for a network
    /// that only runs inference from now on.
    public func freezeConvolutionWeights(precision: Precision = .float32) {
        for convolution in nestedConvolutions { convolution.freezeWeights(precision: precision) }
    }

    /// Sets every dense convolution's `Conv2d.trainingPrecision` inside this container.
    public func setTrainingPrecision(_ precision: Precision) {
        for convolution in nestedConvolutions { convolution.trainingPrecision = precision }
    }

    /// Every dense convolution inside this container, separable convolutions' pointwise halves included.
    private var nestedConvolutions: [Conv2d] {
        nestedLayers.compactMap { ($0 as? Conv2d) ?? ($0 as? SeparableConv2d)?.pointwise }
    }

    /// The multiply-adds of every layer node.
    public var nodeMultiplyAdds: Int {
        nodes.reduce(0) { total, node in
            guard case let .layer(layer) = node.operation else { return total }
            return total + layer.multiplyAdds
        }
    }
}

/// A network of named nodes with fan-out (one value read by several nodes), sums and several outputs, such as a
/// feature pyramid: `[N, ...inputShape] -> [N, ...outputShapes[k]]` for each output `k`.
///
/// Like every layer it keeps its activations between calls, so one graph serves one thread at a time.
public final class Graph: LayerGraph {
    public let nodes: [GraphNode]
    public let outputs: [GraphSource]
    /// The per-example shape of each output after `build`.
    public private(set) var outputShapes: [[Int]] = []
    private var nodeShapes: [[Int]] = []
    private var inputShape: [Int] = []
    private var sums: [Tensor?]
    private var gradients: [Tensor?] = []
    private var ownedGradients: [Tensor?] = []

    /// A graph of `nodes` (in evaluation order) returning `outputs`.
    /// - Throws: ``ModelError/invalidGraph(node:reason:)`` when a node reads a later node or itself, a name repeats,
    ///   a layer node does not have exactly one input, a sum has fewer than two, or there is no output.
    public init(nodes: [GraphNode], outputs: [GraphSource]) throws(ModelError) {
        var names: Set<String> = []
        for (index, node) in nodes.enumerated() {
            guard names.insert(node.name).inserted else { throw .invalidGraph(node: node.name, reason: "the name repeats") }
            for case let .node(source) in node.inputs where source < 0 || source >= index {
                throw .invalidGraph(node: node.name, reason: "reads node \(source), which is not an earlier node")
            }
            switch node.operation {
            case .layer where node.inputs.count != 1:
                throw .invalidGraph(node: node.name, reason: "a layer node reads 1 value, found \(node.inputs.count)")
            case .add where node.inputs.count < 2:
                throw .invalidGraph(node: node.name, reason: "a sum reads 2 or more values, found \(node.inputs.count)")
            default:
                break
            }
        }
        guard !outputs.isEmpty else { throw .invalidGraph(node: "outputs", reason: "a graph needs at least one output") }
        for case let .node(source) in outputs where source < 0 || source >= nodes.count {
            throw .invalidGraph(node: "outputs", reason: "output node \(source) does not exist")
        }
        self.nodes = nodes
        self.outputs = outputs
        sums = Array(repeating: nil, count: nodes.count)
    }

    /// The most values one node may produce per example (4 GiB of float32): more is a malformed graph.
    public static let maximumElementsPerExample = 1 << 30

    /// Builds every node; returns the first output's shape (all of them are in `outputShapes`).
    /// - Throws: ``ModelError/invalidShape(layer:expected:received:)`` when a layer cannot take its input, a node
    ///   would produce more than `maximumElementsPerExample` values, or the values of a sum differ in shape.
    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        self.inputShape = inputShape
        var shapes: [[Int]] = []
        func shape(_ source: GraphSource) -> [Int] {
            switch source {
            case .input: inputShape
            case let .node(index): shapes[index]
            }
        }
        for node in nodes {
            switch node.operation {
            case let .layer(layer):
                let built = try layer.build(inputShape: shape(node.inputs[0]), random: &random)
                // An imported graph (ONNX) may enlarge its maps past any memory: refused here, not when allocated.
                var count = 1
                for extent in built {
                    let (product, overflow) = count.multipliedReportingOverflow(by: extent)
                    guard !overflow, product <= Self.maximumElementsPerExample else {
                        throw .invalidShape(layer: node.name, expected: "at most \(Self.maximumElementsPerExample) values "
                                                + "per example for the input \(inputShape)", received: built)
                    }
                    count = product
                }
                shapes.append(built)
            case .add:
                let first = shape(node.inputs[0])
                if let other = node.inputs.map(shape).first(where: { $0 != first }) {
                    throw .invalidShape(layer: "sum \(node.name)", expected: "\(first) like its first input", received: other)
                }
                shapes.append(first)
            }
        }
        nodeShapes = shapes
        outputShapes = outputs.map(shape)
        return outputShapes[0]
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        forwardAll(input, mode: mode)[0]
    }

    /// Every output for `input` `[N, ...inputShape]`; the tensors are owned by the graph's nodes.
    public func forwardAll(_ input: Tensor, mode: ForwardMode) -> [Tensor] {
        walk(input: input, layer: { index, _, layer, value in
            layer.forward(value, mode: mode.seeded(mode.seed &* 31 &+ UInt64(index)))
        }, add: { index, _, values in
            let sum = Tensor.reusing(sums[index], shape: values[0].shape)
            sums[index] = sum
            Elementwise.add(values[0], values[1], into: sum)
            for value in values.dropFirst(2) { Elementwise.add(sum, value, into: sum) }
            return sum
        })
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        backward(outputGradients: [outputGradient] + Array(repeating: nil, count: outputs.count - 1),
                 needsInputGradient: needsInputGradient)
    }

    /// Back-propagates the gradients of the outputs of the last `forwardAll` (nil: the loss does not depend on that
    /// output), filling every parameter's gradient; returns the input gradient when `needsInputGradient`.
    public func backward(outputGradients: [Tensor?], needsInputGradient: Bool) -> Tensor? {
        precondition(outputGradients.count == outputs.count, "expected \(outputs.count) output gradients")
        // Slot 0 is the graph input, slot i + 1 node i.
        gradients = Array(repeating: nil, count: nodes.count + 1)
        if ownedGradients.count != nodes.count + 1 { ownedGradients = Array(repeating: nil, count: nodes.count + 1) }
        var owned = [Bool](repeating: false, count: nodes.count + 1)
        func slot(_ source: GraphSource) -> Int {
            switch source {
            case .input: 0
            case let .node(index): index + 1
            }
        }
        func accumulate(_ gradient: Tensor, into source: GraphSource) {
            let target = slot(source)
            guard let existing = gradients[target] else {
                gradients[target] = gradient
                return
            }
            if !owned[target] {
                // The first contribution belongs to a layer (or another slot): sum into a buffer of our own.
                let buffer = Tensor.reusing(ownedGradients[target], shape: existing.shape)
                ownedGradients[target] = buffer
                buffer.copy(from: existing)
                gradients[target] = buffer
                owned[target] = true
            }
            Elementwise.add(gradients[target]!, gradient, into: gradients[target]!)
        }
        for (output, gradient) in zip(outputs, outputGradients) {
            if let gradient { accumulate(gradient, into: output) }
        }
        for (index, node) in nodes.enumerated().reversed() {
            guard let gradient = gradients[index + 1] else { continue }
            switch node.operation {
            case let .layer(layer):
                let wantsInput = node.inputs[0] != .input || needsInputGradient
                if let inputGradient = layer.backward(gradient, needsInputGradient: wantsInput), wantsInput {
                    accumulate(inputGradient, into: node.inputs[0])
                }
            case .add:
                for source in node.inputs where source != .input || needsInputGradient {
                    accumulate(gradient, into: source)
                }
            }
        }
        return needsInputGradient ? gradients[0] : nil
    }

    public var namedParameters: [NamedParameter] { nodeParameters }
    public var multiplyAdds: Int { nodeMultiplyAdds }
}
