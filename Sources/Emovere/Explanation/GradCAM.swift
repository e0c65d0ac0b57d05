import EmovereNN
import EmovereTensor

/// Explains a classifier's predictions: Grad-CAM (Selvaraju et al., 2017), guided backpropagation
/// (Springenberg et al., 2015) and their product, guided Grad-CAM.
///
/// For an input batch `[N, H, W, C]` and a target class `t` per example:
/// - Grad-CAM: with `A` the output `[h, w, K]` of a feature-map layer of the network's top level and `y_t` the
///   class's logit (before softmax), the channel weights are the spatial means of the gradients,
///   `w_k = mean_ij dy_t/dA_ijk`; the coarse map `ReLU(Σ_k w_k A_k)` `[h, w]` is upsampled bilinearly (half-pixel
///   centres) to `[H, W]` and scaled to 0...1 by its minimum and maximum (all zeros when it is flat).
/// - Guided backpropagation: `dy_t/dx` `[H, W, C]` with every ReLU passing back only positive gradients at
///   positive inputs.
/// - Guided Grad-CAM: guided backpropagation times the Grad-CAM map.
///
/// Batch norms use their running statistics, so each example's explanation does not depend on the rest of the
/// batch. The network must have its batch norms as layers of their own (a `Model`, not an `InferenceModel`).
/// Runs through the network's own buffers: one thread at a time, and not beside other uses of the network.
public final class GradCAM {
    /// The explained network (built).
    public let network: Sequential
    /// The per-example input shape `[H, W, C]`.
    public let inputShape: [Int]
    /// The layers Grad-CAM can use, in network order.
    public let featureMapLayers: [FeatureMapLayer]
    /// The layer whose output Grad-CAM weighs.
    public let layer: FeatureMapLayer
    /// The number of classes (the network's output size).
    public let classCount: Int

    /// Explains `network` (built for per-example inputs `inputShape` `[H, W, C]`, with logits `[classes]` out)
    /// at the top-level layer `layerIndex`, by default `defaultLayer(among:classCount:)`.
    public init(network: Sequential, inputShape: [Int], layerIndex: Int? = nil) throws(ExplanationError) {
        if network.nestedLayers.contains(where: { ($0 as? BatchNorm)?.isFolded == true }) { throw .foldedNetwork }
        // One zero example through the network gives every layer's output shape.
        var shapes: [[Int]] = []
        var x = Tensor(shape: [1] + inputShape)
        for layer in network.layers {
            x = layer.forward(x, mode: .inference)
            shapes.append(Array(x.shape.dropFirst()))
        }
        guard let output = shapes.last, output.count == 1, output[0] > 0 else { throw .notAClassifier(outputShape: shapes.last ?? []) }
        let layers = zip(network.layers, shapes).enumerated().compactMap { index, pair -> FeatureMapLayer? in
            pair.1.count == 3 ? FeatureMapLayer(index: index, kind: Self.kind(of: pair.0, at: index),
                                                outputShape: pair.1) : nil
        }
        guard let fallback = Self.defaultLayer(among: layers, classCount: output[0]) else { throw .noFeatureMapLayer }
        let index = layerIndex ?? fallback.index
        guard let chosen = layers.first(where: { $0.index == index }) else {
            let reason = network.layers.indices.contains(index)
                ? "outputs \(shapes[index]), not a feature map [height, width, channels]"
                : "does not exist (the network's layers are 0...\(network.layers.count - 1), not all of them feature maps)"
            throw .invalidLayer(index: index, reason: reason, choices: layers)
        }
        self.network = network
        self.inputShape = inputShape
        featureMapLayers = layers
        layer = chosen
        classCount = output[0]
    }

    /// The type of `layer` (at top-level position `index`) as its output is: a batch norm or residual block that a
    /// following ReLU was fused into outputs after that ReLU (`BatchNorm+ReLU`), and the fused ReLU repeats the
    /// output of the layer before it.
    static func kind(of layer: any Layer, at index: Int) -> String {
        switch layer {
        case let norm as BatchNorm where norm.appliesReLU: "BatchNorm+ReLU"
        case let block as Residual where block.rectifier != nil: "Residual+ReLU"
        case let relu as ReLU where relu.isFused: "ReLU, the output of layer \(index - 1)"
        default: String(describing: type(of: layer))
        }
    }

    /// Explains the trainable `model` (batch norms as layers of their own) at its top-level layer `layerIndex`.
    public convenience init(model: Model, layerIndex: Int? = nil) throws(ExplanationError) {
        let size = model.architecture.inputSize
        try self.init(network: model.network, inputShape: [size, size, 1], layerIndex: layerIndex)
    }

    /// The deepest feature-map layer that is not a class-score map (one with as many channels as there are
    /// classes), else the deepest feature-map layer: in mini-Xception the last residual module (3x3x128 at 48x48;
    /// layer 9), the last convolutional features, as the Grad-CAM paper recommends (README, "explain", compares
    /// the layers' faithfulness).
    public static func defaultLayer(among layers: [FeatureMapLayer], classCount: Int) -> FeatureMapLayer? {
        layers.last { $0.outputShape[2] != classCount } ?? layers.last
    }

    /// Explains every example of `input` `[N, H, W, C]` for the class `targetClass`.
    public func explain(_ input: Tensor, targetClass: Int) throws(ExplanationError) -> Explanation {
        try explain(input, targetClasses: [Int](repeating: targetClass, count: input.shape.first ?? 0))
    }

    /// Explains each example of `input` `[N, H, W, C]` for its class in `targetClasses` (`N` of them), or by
    /// default for its most probable class. Leaves every ReLU of the network with the `.gradient` backward rule.
    public func explain(_ input: Tensor, targetClasses: [Int]? = nil) throws(ExplanationError) -> Explanation {
        guard input.shape.count == inputShape.count + 1, Array(input.shape.dropFirst()) == inputShape,
              input.shape[0] > 0 else {
            throw .invalidInputShape(expected: inputShape, received: input.shape)
        }
        let batch = input.shape[0]
        if let targetClasses {
            guard targetClasses.count == batch else {
                throw .targetCountMismatch(targets: targetClasses.count, examples: batch)
            }
            if let wrong = targetClasses.first(where: { !(0..<classCount).contains($0) }) {
                throw .invalidTargetClass(wrong, classCount: classCount)
            }
        }
        let layers = network.layers

        var x = input
        var features = Tensor(shape: [0])
        for (index, layer) in layers.enumerated() {
            x = layer.forward(x, mode: .differentiableInference)
            if index == self.layer.index { features = x.copy() }
        }
        let probabilities = Tensor(shape: [batch, classCount])
        Loss.softmax(x.pointer, rows: batch, classes: classCount, into: probabilities.pointer)
        let targets = targetClasses ?? (0..<batch).map { row in
            (0..<classCount).max { probabilities[row * classCount + $0] < probabilities[row * classCount + $1] } ?? 0
        }
        // d(Σ_n y_{n, t_n}): each example's logit depends on that example only.
        let seed = Tensor(shape: [batch, classCount])
        for (row, target) in targets.enumerated() { seed[row * classCount + target] = 1 }

        network.setReLUBackwardRule(.gradient)
        var gradient = seed
        for index in stride(from: layers.count - 1, to: self.layer.index, by: -1) {
            gradient = layers[index].backward(gradient, needsInputGradient: true)!
        }
        let featureGradient = gradient.copy()

        network.setReLUBackwardRule(.guided)
        defer { network.setReLUBackwardRule(.gradient) }
        let guided = network.backward(seed, needsInputGradient: true)!.copy()

        let coarse = Self.coarseMaps(features: features, gradients: featureGradient)
        let height = inputShape[0], width = inputShape[1]
        let maps = Tensor(shape: [batch, height, width, 1])
        let (mapHeight, mapWidth) = (features.shape[1], features.shape[2])
        for example in 0..<batch {
            let map = maps.pointer + example * height * width
            Self.upsample(coarse.pointer + example * mapHeight * mapWidth, height: mapHeight, width: mapWidth,
                          into: map, height: height, width: width)
            Self.scaleToUnitRange(map, count: height * width)
        }
        let guidedGradCAM = Tensor(shape: guided.shape)
        let channels = inputShape[2]
        for index in 0..<guided.count { guidedGradCAM[index] = guided[index] * maps[index / channels] }
        return Explanation(probabilities: probabilities, targetClasses: targets, layer: layer, coarseMaps: coarse,
                           gradCAM: maps, guidedBackpropagation: guided, guidedGradCAM: guidedGradCAM)
    }

    /// `ReLU(Σ_k w_k A_k)` `[N, h, w, 1]` with `w_k` the mean of `gradients` over each example's `h x w` cells,
    /// for `features` and `gradients` `[N, h, w, K]`.
    static func coarseMaps(features: Tensor, gradients: Tensor) -> Tensor {
        let (batch, cells, channels) = (features.shape[0], features.shape[1] * features.shape[2], features.shape[3])
        let maps = Tensor(shape: [batch, features.shape[1], features.shape[2], 1])
        var weights = [Float](repeating: 0, count: channels)
        for example in 0..<batch {
            let a = features.pointer + example * cells * channels
            let g = gradients.pointer + example * cells * channels
            for k in 0..<channels { weights[k] = 0 }
            for cell in 0..<cells {
                for k in 0..<channels { weights[k] += g[cell * channels + k] }
            }
            for k in 0..<channels { weights[k] /= Float(cells) }
            for cell in 0..<cells {
                var sum: Float = 0
                for k in 0..<channels { sum += weights[k] * a[cell * channels + k] }
                maps[example * cells + cell] = max(sum, 0)
            }
        }
        return maps
    }

    /// Bilinear resampling with half-pixel centres (OpenCV's `INTER_LINEAR`, edges clamped) of a
    /// `height x width` map into `outputHeight x outputWidth`.
    static func upsample(_ map: UnsafePointer<Float>, height: Int, width: Int, into output: UnsafeMutablePointer<Float>,
                         height outputHeight: Int, width outputWidth: Int) {
        func taps(_ index: Int, input: Int, output: Int) -> (Int, Int, Float) {
            let position = min(max((Float(index) + 0.5) * Float(input) / Float(output) - 0.5, 0), Float(input - 1))
            let low = Int(position)
            return (low, min(low + 1, input - 1), position - Float(low))
        }
        for row in 0..<outputHeight {
            let (top, bottom, v) = taps(row, input: height, output: outputHeight)
            for column in 0..<outputWidth {
                let (left, right, u) = taps(column, input: width, output: outputWidth)
                let upper = map[top * width + left] * (1 - u) + map[top * width + right] * u
                let lower = map[bottom * width + left] * (1 - u) + map[bottom * width + right] * u
                output[row * outputWidth + column] = upper * (1 - v) + lower * v
            }
        }
    }

    /// Maps `count` values linearly onto 0...1 (minimum to 0, maximum to 1); a flat map becomes all zeros.
    static func scaleToUnitRange(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let buffer = UnsafeMutableBufferPointer(start: values, count: count)
        let low = buffer.min() ?? 0, high = buffer.max() ?? 0
        let range = high - low
        for index in buffer.indices { buffer[index] = range > 0 ? (buffer[index] - low) / range : 0 }
    }
}

/// What `GradCAM.explain(_:targetClasses:)` computes for a batch of `N` examples `[N, H, W, C]`.
public struct Explanation {
    /// Class probabilities `[N, classes]` (softmax of the logits).
    public var probabilities: Tensor
    /// The explained class of each example.
    public var targetClasses: [Int]
    /// The layer whose feature maps Grad-CAM weighed.
    public var layer: FeatureMapLayer
    /// The Grad-CAM maps at the layer's resolution, before upsampling and scaling: `ReLU(Σ_k w_k A_k)`
    /// `[N, h, w, 1]`.
    public var coarseMaps: Tensor
    /// Grad-CAM maps `[N, H, W, 1]`, 0...1.
    public var gradCAM: Tensor
    /// Guided backpropagation, the guided input gradients `[N, H, W, C]` (signed).
    public var guidedBackpropagation: Tensor
    /// Guided Grad-CAM, `guidedBackpropagation` times `gradCAM` `[N, H, W, C]` (signed).
    public var guidedGradCAM: Tensor
}
