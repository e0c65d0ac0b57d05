import EmovereCore
import EmovereTensor

/// A built network with its architecture: maps `[N, S, S, 1]` preprocessed faces to logits `[N, classes]`.
public final class Model: Classifier {
    public let architecture: Architecture
    public let network: Sequential
    /// All parameters (trainable and running statistics) by dotted name, in a fixed order.
    public let parameters: [NamedParameter]

    /// Builds `architecture` with weights drawn from `seed`.
    public init(architecture: Architecture, seed: UInt64 = 0) throws(ModelError) {
        self.architecture = architecture
        network = try architecture.makeNetwork()
        var random = SplitMix64(seed: seed)
        let output = try network.build(inputShape: [architecture.inputSize, architecture.inputSize, 1], random: &random)
        guard output == [architecture.classCount] else {
            throw .invalidShape(layer: architecture.name, expected: "output [\(architecture.classCount)]", received: output)
        }
        parameters = network.namedParameters
        network.fuseActivations()
    }

    /// A copy of this model prepared for inference: batch norms folded into the convolutions before them (as ONNX
    /// exporters do, so inference skips one pass over every activation), ReLUs fused, convolution weights packed
    /// once. This model stays trainable; later training does not change the copy.
    public func inferenceModel() throws(ModelError) -> InferenceModel {
        let copy = try Model(architecture: architecture)
        try copy.load(stateDictionary())
        return InferenceModel(preparing: copy)
    }

    /// The total number of values (trainable weights and running statistics, as Keras counts them).
    public var parameterCount: Int {
        parameters.reduce(0) { $0 + $1.parameter.value.count }
    }

    /// Multiply-adds of one face's forward pass through the convolutions and dense layers.
    public var multiplyAddsPerFace: Int { network.multiplyAdds }

    /// Logits `[N, classes]` for `input` `[N, S, S, 1]`; the tensor is owned by the model.
    public func logits(_ input: Tensor, mode: ForwardMode = .inference) -> Tensor {
        precondition(input.shape.count == 4 && input.shape[1] == architecture.inputSize
                     && input.shape[2] == architecture.inputSize && input.shape[3] == 1,
                     "model expects [N, \(architecture.inputSize), \(architecture.inputSize), 1], received \(input.shape)")
        return network.forward(input, mode: mode)
    }

    /// Back-propagates `logitsGradient` `[N, classes]` from the last `logits(_:mode:)` call, filling every
    /// parameter's gradient.
    public func backward(_ logitsGradient: Tensor) {
        _ = network.backward(logitsGradient, needsInputGradient: false)
    }

    /// Images per inference pass: large batches run through the network in slices this size, so each
    /// layer's activations stay in cache instead of streaming hundreds of megabytes through memory.
    public static let inferenceSlice = 16

    private var slice: Tensor?

    /// Class probabilities `[N, classes]` for `input` `[N, S, S, 1]` (inference mode).
    public func probabilities(_ input: Tensor) -> Tensor {
        let batch = input.shape[0]
        let classes = architecture.classCount
        let result = Tensor(shape: [batch, classes])
        if batch <= Self.inferenceSlice {
            let logits = logits(input)
            Loss.softmax(logits.pointer, rows: batch, classes: classes, into: result.pointer)
            return result
        }
        let perImage = input.count / max(batch, 1)
        var start = 0
        while start < batch {
            let count = min(Self.inferenceSlice, batch - start)
            let slice = Tensor.reusing(slice, shape: [count] + input.shape.dropFirst())
            self.slice = slice
            slice.pointer.update(from: input.pointer + start * perImage, count: count * perImage)
            let logits = logits(slice)
            Loss.softmax(logits.pointer, rows: count, classes: classes, into: result.pointer + start * classes)
            start += count
        }
        return result
    }

    /// The values of every parameter by name (shapes included), e.g. for saving.
    public func stateDictionary() -> [String: (shape: [Int], values: [Float])] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, ($0.parameter.value.shape, $0.parameter.value.values)) })
    }

    /// Replaces every parameter's value from `state`; every name must be present with the right shape
    /// and no extra names may appear.
    public func load(_ state: [String: (shape: [Int], values: [Float])]) throws(ModelError) {
        for named in parameters {
            guard let entry = state[named.name] else { throw .missingParameter(name: named.name) }
            let value = named.parameter.value
            guard entry.shape == value.shape, entry.values.count == value.count else {
                throw .parameterShapeMismatch(name: named.name, expected: value.shape, received: entry.shape)
            }
            entry.values.withUnsafeBufferPointer { value.pointer.update(from: $0.baseAddress!, count: value.count) }
        }
        let known = Set(parameters.map(\.name))
        if let extra = state.keys.sorted().first(where: { !known.contains($0) }) {
            throw .unexpectedParameter(name: extra)
        }
    }
}
