import EmovereTensor

/// A model prepared for inference only (``Model/inferenceModel()``): its own copy of the weights, batch norms
/// folded into the convolutions before them, ReLUs fused, convolution weights packed once. Maps `[N, S, S, 1]`
/// preprocessed faces to probabilities `[N, classes]`; it cannot train or be saved (the `Model` it came from can).
public final class InferenceModel: Classifier {
    private let model: Model

    /// Takes `model` over, folds and packs it.
    init(preparing model: Model) {
        model.network.foldBatchNorms()
        model.network.freezeConvolutionWeights()
        self.model = model
    }

    public var architecture: Architecture { model.architecture }
    public var network: Sequential { model.network }

    /// Values of the model it was prepared from (trainable weights and running statistics, as Keras counts them).
    public var parameterCount: Int { model.parameterCount }

    /// Multiply-adds of one face's forward pass, counted on the prepared layers.
    public var multiplyAddsPerFace: Int { model.multiplyAddsPerFace }

    /// Logits `[N, classes]` for `input` `[N, S, S, 1]`; the tensor is owned by the model.
    public func logits(_ input: Tensor) -> Tensor { model.logits(input, mode: .inference) }

    public func probabilities(_ input: Tensor) -> Tensor { model.probabilities(input) }
}
