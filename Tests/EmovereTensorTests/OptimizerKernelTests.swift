import EmovereTensor
import EmovereTestSupport
import Testing

/// `OptimizerKernels.adam` and `.sgd` against `Reference.adam` and `.sgd`, over several steps so that
/// the moment and velocity state carries over.
///
/// Tolerances: relative 1e-5, absolute 1e-6 on the weights and state. Both sides round the same
/// float32 state each step; only the arithmetic inside a step differs (Double in the reference).
struct OptimizerKernelTests {
    static let count = 37
    static let steps = 5

    @Test(arguments: [Float(0), 0.01])
    func adamMatchesReference(weightDecay: Float) {
        let start = randomValues(Self.count, seed: 71)
        let value = Tensor(shape: [Self.count], values: start)
        let firstMoment = Tensor(shape: [Self.count])
        let secondMoment = Tensor(shape: [Self.count])
        var expectedValue = start
        var expectedFirst = [Float](repeating: 0, count: Self.count)
        var expectedSecond = [Float](repeating: 0, count: Self.count)
        for step in 1...Self.steps {
            let gradient = Tensor(shape: [Self.count], values: randomValues(Self.count, seed: 72 + UInt64(step)))
            OptimizerKernels.adam(
                value: value.pointer, gradient: gradient.pointer, firstMoment: firstMoment.pointer,
                secondMoment: secondMoment.pointer, count: Self.count, learningRate: 1e-2, beta1: 0.9, beta2: 0.999,
                epsilon: 1e-7, weightDecay: weightDecay, step: step)
            Reference.adam(
                value: &expectedValue, gradient: gradient.values, firstMoment: &expectedFirst,
                secondMoment: &expectedSecond, learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-7,
                weightDecay: weightDecay, step: step)
        }
        #expect(closeness(value.values, expectedValue, relativeTolerance: 1e-5, absoluteTolerance: 1e-6) <= 1)
        #expect(closeness(firstMoment.values, expectedFirst, relativeTolerance: 1e-5, absoluteTolerance: 1e-6) <= 1)
        #expect(closeness(secondMoment.values, expectedSecond, relativeTolerance: 1e-5, absoluteTolerance: 1e-6) <= 1)
        #expect(value.values != start)
    }

    @Test(arguments: [(true, Float(0)), (true, 0.01), (false, 0.01)])
    func sgdMatchesReference(nesterov: Bool, weightDecay: Float) {
        let start = randomValues(Self.count, seed: 81)
        let value = Tensor(shape: [Self.count], values: start)
        let velocity = Tensor(shape: [Self.count])
        var expectedValue = start
        var expectedVelocity = [Float](repeating: 0, count: Self.count)
        for step in 1...Self.steps {
            let gradient = Tensor(shape: [Self.count], values: randomValues(Self.count, seed: 82 + UInt64(step)))
            OptimizerKernels.sgd(
                value: value.pointer, gradient: gradient.pointer, velocity: velocity.pointer, count: Self.count,
                learningRate: 0.05, momentum: 0.9, nesterov: nesterov, weightDecay: weightDecay)
            Reference.sgd(
                value: &expectedValue, gradient: gradient.values, velocity: &expectedVelocity, learningRate: 0.05,
                momentum: 0.9, nesterov: nesterov, weightDecay: weightDecay)
        }
        #expect(closeness(value.values, expectedValue, relativeTolerance: 1e-5, absoluteTolerance: 1e-6) <= 1)
        #expect(closeness(velocity.values, expectedVelocity, relativeTolerance: 1e-5, absoluteTolerance: 1e-6) <= 1)
    }

    /// Nesterov and plain momentum agree on the first step's velocity but not on the weights.
    @Test func nesterovDiffersFromPlainMomentum() {
        var plain = randomValues(5, seed: 91)
        var nesterov = plain
        var plainVelocity = [Float](repeating: 0, count: 5)
        var nesterovVelocity = plainVelocity
        let gradient = randomValues(5, seed: 92)
        Reference.sgd(value: &plain, gradient: gradient, velocity: &plainVelocity, learningRate: 0.1, momentum: 0.9,
                      nesterov: false, weightDecay: 0)
        Reference.sgd(value: &nesterov, gradient: gradient, velocity: &nesterovVelocity, learningRate: 0.1,
                      momentum: 0.9, nesterov: true, weightDecay: 0)
        #expect(plainVelocity == nesterovVelocity)
        #expect(plain != nesterov)
    }
}
