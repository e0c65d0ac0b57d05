import EmovereTensor

/// The update rule of an `Optimizer`.
public enum OptimizerRule: Sendable, Codable, Equatable {
    /// Adam with the given decay rates and epsilon.
    case adam(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7)
    /// SGD with momentum, Nesterov's variant when `nesterov` is true.
    case sgd(momentum: Float = 0.9, nesterov: Bool = true)
}

/// Updates a model's trainable parameters from their gradients; holds the per-parameter state
/// (Adam moments or momentum velocity) that checkpoints save and restore.
public final class Optimizer {
    public let rule: OptimizerRule
    /// L2 weight decay applied to `.weight` parameters (added to the gradient as `decay * w`).
    public let weightDecay: Float
    public let parameters: [NamedParameter]
    /// Optimizer slots per trainable parameter: Adam `[m, v]`, SGD `[velocity]`.
    public let slots: [[Tensor]]
    /// Updates applied so far.
    public var step = 0

    public init(rule: OptimizerRule, weightDecay: Float, parameters: [NamedParameter]) {
        self.rule = rule
        self.weightDecay = weightDecay
        self.parameters = parameters.filter { $0.parameter.isTrainable }
        let slotCount = if case .adam = rule { 2 } else { 1 }
        slots = self.parameters.map { named in (0..<slotCount).map { _ in Tensor(shape: named.parameter.value.shape) } }
    }

    /// Applies one update with `learningRate` using the gradients from the last backward pass.
    public func update(learningRate: Float) {
        step += 1
        for (named, state) in zip(parameters, slots) {
            let p = named.parameter
            let decay = p.role == .weight ? weightDecay : 0
            switch rule {
            case let .adam(beta1, beta2, epsilon):
                OptimizerKernels.adam(
                    value: p.value.pointer, gradient: p.gradient.pointer, firstMoment: state[0].pointer,
                    secondMoment: state[1].pointer, count: p.value.count, learningRate: learningRate,
                    beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: decay, step: step)
            case let .sgd(momentum, nesterov):
                OptimizerKernels.sgd(
                    value: p.value.pointer, gradient: p.gradient.pointer, velocity: state[0].pointer,
                    count: p.value.count, learningRate: learningRate, momentum: momentum, nesterov: nesterov,
                    weightDecay: decay)
            }
        }
    }

    /// The slot tensors by name (`"<parameter>.slot<i>"`), for checkpoints.
    public var namedSlots: [(name: String, tensor: Tensor)] {
        zip(parameters, slots).flatMap { named, state in
            state.enumerated().map { ("\(named.name).slot\($0.offset)", $0.element) }
        }
    }
}
