import EmovereTensor

/// A network that classifies preprocessed faces `[N, S, S, 1]`: a trainable ``Model`` or the ``InferenceModel``
/// prepared from one. Holds per-call buffers, so one classifier serves one thread at a time.
public protocol Classifier: AnyObject {
    /// The architecture, input size and class count.
    var architecture: Architecture { get }
    /// The layers (in an `InferenceModel`, batch norms folded and ReLUs fused into them).
    var network: Sequential { get }
    /// Class probabilities `[N, classes]` for `input` `[N, S, S, 1]`, in inference mode; owned by the caller.
    func probabilities(_ input: Tensor) -> Tensor
}
