import EmovereCore
import EmovereTensor

/// A model prepared for inference only (``Model/inferenceModel()``): its own copy of the weights, batch norms
/// folded into the convolutions before them, ReLUs fused, convolution weights packed once. Maps `[N, S, S, 1]`
/// preprocessed faces to probabilities `[N, classes]`; it cannot train or be saved (the `Model` it came from can).
///
/// A batch of several faces is split over the workers, each running its share one face at a time through its own
/// copy of the network on one thread: a face's activations then stay in that core's cache, which made the default
/// model's batches of 64 and 256 about 20-25 % faster on two cores than slices of 16 faces with every layer split
/// over the workers (`emovere bench`). The copies are prepared from the kept weights on the first batch that needs
/// them and kept (the default model's weights and packed kernels: a few megabytes per copy); `maximumCopies` bounds
/// them.
public final class InferenceModel: Classifier {
    /// The prepared network (used for single faces, split over the workers layer by layer), then one copy per
    /// further worker, once a batch has needed them.
    private var replicas: [Model]
    /// The weights the copies are prepared from (before folding).
    private let state: [String: (shape: [Int], values: [Float])]
    /// The dense convolutions' arithmetic (`Conv2d.freezeWeights(precision:)`): a precision this CPU runs.
    public let precision: Precision

    /// The most copies of the network a batch is split over: one per worker by default. Where several models
    /// already run side by side (a server's recognizer pool), give each its share of the workers: 1 keeps a single
    /// network, which still passes a batch one face at a time.
    public var maximumCopies = Parallel.workerCount

    /// Faces each copy passes through its network at a time.
    static let replicaSlice = 1

    /// Prepares `architecture` with the weights of `state` (a ``Model/stateDictionary()``), its convolutions in
    /// `precision` (one this CPU runs).
    init(architecture: Architecture, state: [String: (shape: [Int], values: [Float])], precision: Precision)
        throws(ModelError) {
        self.state = state
        self.precision = precision
        replicas = [try Self.prepared(architecture, state: state, precision: precision)]
    }

    private static func prepared(_ architecture: Architecture, state: [String: (shape: [Int], values: [Float])],
                                 precision: Precision) throws(ModelError) -> Model {
        let model = try Model(architecture: architecture)
        try model.load(state)
        model.network.foldBatchNorms()
        model.network.freezeConvolutionWeights(precision: precision)
        return model
    }

    /// Copies of the network prepared so far (the first included).
    var copyCount: Int { replicas.count }

    private var model: Model { replicas[0] }
    public var architecture: Architecture { model.architecture }
    public var network: Sequential { model.network }

    /// Values of the model it was prepared from (trainable weights and running statistics, as Keras counts them).
    public var parameterCount: Int { model.parameterCount }

    /// Multiply-adds of one face's forward pass, counted on the prepared layers.
    public var multiplyAddsPerFace: Int { model.multiplyAddsPerFace }

    /// Logits `[N, classes]` for `input` `[N, S, S, 1]`, every layer split over the workers; the tensor is owned by
    /// the model.
    public func logits(_ input: Tensor) -> Tensor { model.logits(input, mode: .inference) }

    public func probabilities(_ input: Tensor) -> Tensor {
        // Inside another job's chunk (another model holds the workers) a split would run copy after copy.
        probabilities(input, workers: max(1, min(maximumCopies, Parallel.availableWorkers, input.shape[0])))
    }

    /// `probabilities(_:)` with a batch of several faces split over `workers` copies of the network.
    func probabilities(_ input: Tensor, workers: Int) -> Tensor {
        guard input.shape[0] > 1 else { return model.probabilities(input) }
        while replicas.count < workers {
            do {
                replicas.append(try Self.prepared(architecture, state: state, precision: precision))
            } catch {
                preconditionFailure("the weights that prepared this model prepare another copy: \(error)")
            }
        }
        let batch = input.shape[0]
        let classes = architecture.classCount
        let result = Tensor(shape: [batch, classes])
        let shared = UnsafeSendable((replicas: replicas, input: input, output: result.pointer))
        Parallel.forEachChunk(batch, maximumChunks: workers) { index, images in
            shared.value.replicas[index].writeProbabilities(
                of: shared.value.input, images: images, sliceSize: Self.replicaSlice,
                into: shared.value.output + images.lowerBound * classes)
        }
        return result
    }
}
