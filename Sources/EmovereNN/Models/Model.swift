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
    /// once, in `precision` where this CPU runs it (`Precision.supported`). This model stays trainable; later
    /// training does not change the copy.
    public func inferenceModel(precision: Precision = .float32) throws(ModelError) -> InferenceModel {
        try InferenceModel(architecture: architecture, state: stateDictionary(), precision: precision.supported)
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
        let result = Tensor(shape: [input.shape[0], architecture.classCount])
        writeProbabilities(of: input, images: 0..<input.shape[0], sliceSize: Self.inferenceSlice, into: result.pointer)
        return result
    }

    /// Writes the probabilities of `input`'s images `images` to `output` (rows of `classes`, the first for
    /// `images.lowerBound`), running the network on at most `sliceSize` images at a time.
    func writeProbabilities(of input: Tensor, images: Range<Int>, sliceSize: Int, into output: UnsafeMutablePointer<Float>) {
        let classes = architecture.classCount
        if images == 0..<input.shape[0], images.count <= sliceSize {
            Loss.softmax(logits(input).pointer, rows: images.count, classes: classes, into: output)
            return
        }
        let perImage = input.count / max(input.shape[0], 1)
        var start = images.lowerBound
        while start < images.upperBound {
            let count = min(sliceSize, images.upperBound - start)
            let slice = Tensor.reusing(slice, shape: [count] + input.shape.dropFirst())
            self.slice = slice
            slice.pointer.update(from: input.pointer + start * perImage, count: count * perImage)
            let logits = logits(slice)
            Loss.softmax(logits.pointer, rows: count, classes: classes,
                         into: output + (start - images.lowerBound) * classes)
            start += count
        }
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
