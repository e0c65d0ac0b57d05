import EmovereCore
import EmovereTensor

/// Layers applied one after another; parameters are named `"<index>.<name>"`.
public final class Sequential: LayerGraph {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) {
        self.layers = layers
    }

    /// Builds the list with the `LayerBuilder` syntax (loops and conditionals allowed).
    public convenience init(@LayerBuilder _ content: () -> [any Layer]) {
        self.init(content())
    }

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        var shape = inputShape
        for layer in layers { shape = try layer.build(inputShape: shape, random: &random) }
        return shape
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        var x = input
        for (index, layer) in layers.enumerated() {
            x = layer.forward(x, mode: mode.seeded(mode.seed &* 31 &+ UInt64(index)))
        }
        return x
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        var gradient = outputGradient
        for (index, layer) in layers.enumerated().reversed() {
            guard let next = layer.backward(gradient, needsInputGradient: index > 0 || needsInputGradient) else {
                return nil
            }
            gradient = next
        }
        return gradient
    }

    /// Fuses every ReLU that directly follows a batch norm or a residual block into it (one pass over the activations
    /// fewer, forward and backward), here and in nested blocks. Parameter names do not change.
    public func fuseActivations() {
        for (index, layer) in layers.enumerated() {
            switch layer {
            case let block as Sequential:
                block.fuseActivations()
            case let block as Residual:
                block.main.fuseActivations()
                block.shortcut?.fuseActivations()
            case let relu as ReLU where index > 0:
                if let norm = layers[index - 1] as? BatchNorm, !norm.isFolded {
                    norm.appliesReLU = true
                    relu.isFused = true
                } else if let block = layers[index - 1] as? Residual, block.rectifier == nil {
                    block.fuse(relu)
                }
            default:
                break
            }
        }
    }

    /// Sets how every ReLU, separate or fused into a batch norm or a residual block (its `rectifier`), here and in
    /// nested blocks passes gradients back: `.guided` for guided backpropagation, `.gradient` (the default) for
    /// training.
    public func setReLUBackwardRule(_ rule: ReLUBackwardRule) {
        for layer in nestedLayers {
            (layer as? ReLU)?.backwardRule = rule
            (layer as? BatchNorm)?.reluBackwardRule = rule
        }
    }

    /// Folds every batch norm that directly follows a convolution into that convolution, and lets a
    /// convolution followed by global average pooling compute the average directly (inference only),
    /// here and in nested blocks.
    public func foldBatchNorms() {
        for (index, layer) in layers.enumerated() {
            switch layer {
            case let block as Sequential:
                block.foldBatchNorms()
            case let block as Residual:
                block.main.foldBatchNorms()
                block.shortcut?.foldBatchNorms()
            case let norm as BatchNorm where index > 0 && !norm.isFolded:
                let relu = index + 1 < layers.count ? layers[index + 1] as? ReLU : nil
                let convolution = (layers[index - 1] as? Conv2d) ?? (layers[index - 1] as? SeparableConv2d)?.pointwise
                guard let convolution else { break }
                let (scale, shift) = norm.fold()
                convolution.absorb(scale: scale, shift: shift)
                if norm.appliesReLU, let relu {
                    // The batch norm disappears into the convolution, and so does its ReLU.
                    norm.appliesReLU = false
                    convolution.appliesReLU = true
                    relu.isFused = true
                }
            case is GlobalAveragePool2d where index > 0:
                if let convolution = layers[index - 1] as? Conv2d, !convolution.appliesReLU {
                    convolution.averagesOutput = true
                }
            default:
                break
            }
        }
    }

    /// A chain: node `i` is named `"i"` and reads node `i - 1` (the first reads the input).
    public var nodes: [GraphNode] {
        layers.enumerated().map { index, layer in
            .layer("\(index)", layer, input: index == 0 ? .input : .node(index - 1))
        }
    }

    public var outputs: [GraphSource] { [layers.isEmpty ? .input : .node(layers.count - 1)] }

    public var multiplyAdds: Int { nodeMultiplyAdds }

    public var namedParameters: [NamedParameter] { nodeParameters }
}

/// A residual block: `main(x) + shortcut(x)`, or `main(x) + x` without a shortcut; with a `rectifier`,
/// `max(main(x) + shortcut(x), 0)`. Parameters are named `"main.<name>"` and `"shortcut.<name>"`.
public final class Residual: LayerGraph {
    public let main: Sequential
    public let shortcut: Sequential?
    /// The ReLU that `Sequential.fuseActivations()` moved into this block from the layer after it: the sum is
    /// rectified as it is written, and its gradient masked once for both branches. A node of the block (`relu`), so
    /// the walks of exporters and `Sequential.setReLUBackwardRule(_:)` see it; the fused layer after the block then
    /// passes values through, and the block's output is the rectified sum.
    public private(set) var rectifier: ReLU?
    private var output: Tensor?
    private var rectifiedGradient: Tensor?
    private var inputGradient: Tensor?

    public init(@LayerBuilder main: () -> [any Layer], @LayerBuilder shortcut: () -> [any Layer] = { [] }) {
        self.main = Sequential(main())
        let shortcutLayers = shortcut()
        self.shortcut = shortcutLayers.isEmpty ? nil : Sequential(shortcutLayers)
    }

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        let mainShape = try main.build(inputShape: inputShape, random: &random)
        let shortcutShape = try shortcut?.build(inputShape: inputShape, random: &random) ?? inputShape
        guard mainShape == shortcutShape else {
            throw .invalidShape(layer: "Residual shortcut", expected: "\(mainShape) like the main branch",
                                received: shortcutShape)
        }
        return mainShape
    }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        let mainOutput = main.forward(input, mode: mode)
        let shortcutOutput = shortcut?.forward(input, mode: mode.seeded(~mode.seed))
            ?? input
        let output = Tensor.reusing(output, shape: mainOutput.shape)
        Elementwise.add(mainOutput, shortcutOutput, relu: rectifier != nil, into: output)
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        var outputGradient = outputGradient
        if let rectifier {
            guard let output else { preconditionFailure("Residual backward before forward") }
            let gradient = Tensor.reusing(rectifiedGradient, shape: output.shape)
            Elementwise.reluBackward(output: output, outputGradient: outputGradient,
                                     guided: rectifier.backwardRule == .guided, into: gradient)
            rectifiedGradient = gradient
            outputGradient = gradient
        }
        let mainGradient = main.backward(outputGradient, needsInputGradient: needsInputGradient)
        let shortcutGradient = shortcut.map { $0.backward(outputGradient, needsInputGradient: needsInputGradient) }
            ?? outputGradient
        guard needsInputGradient, let mainGradient, let shortcutGradient else { return nil }
        let inputGradient = Tensor.reusing(inputGradient, shape: mainGradient.shape)
        Elementwise.add(mainGradient, shortcutGradient, into: inputGradient)
        self.inputGradient = inputGradient
        return inputGradient
    }

    /// Takes over `relu`, the ReLU right after this block (see `rectifier`).
    func fuse(_ relu: ReLU) {
        let rectifier = ReLU()
        rectifier.backwardRule = relu.backwardRule
        self.rectifier = rectifier
        relu.isFused = true
    }

    /// Nodes `main` and `shortcut` (when present), both reading the input, their sum `add`, and the `rectifier`
    /// (`relu`) when fused.
    public var nodes: [GraphNode] {
        let branches: [GraphNode] = [.layer("main", main, input: .input)]
            + (shortcut.map { [.layer("shortcut", $0, input: .input)] } ?? [])
        let sum = GraphNode(name: "add", operation: .add, inputs: [.node(0), shortcut == nil ? .input : .node(1)])
        return branches + [sum] + (rectifier.map { [.layer("relu", $0, input: .node(branches.count))] } ?? [])
    }

    public var outputs: [GraphSource] { [.node(nodes.count - 1)] }

    public var multiplyAdds: Int { nodeMultiplyAdds }

    public var namedParameters: [NamedParameter] { nodeParameters }
}

/// Result builder for lists of layers: `Sequential { Conv2d(...); BatchNorm(); for f in [16, 32] { ... } }`.
@resultBuilder
public enum LayerBuilder {
    public static func buildExpression(_ layer: any Layer) -> [any Layer] { [layer] }
    public static func buildExpression(_ layers: [any Layer]) -> [any Layer] { layers }
    public static func buildBlock(_ parts: [any Layer]...) -> [any Layer] { parts.flatMap { $0 } }
    public static func buildArray(_ parts: [[any Layer]]) -> [any Layer] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [any Layer]?) -> [any Layer] { part ?? [] }
    public static func buildEither(first part: [any Layer]) -> [any Layer] { part }
    public static func buildEither(second part: [any Layer]) -> [any Layer] { part }
}
