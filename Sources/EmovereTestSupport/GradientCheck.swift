import EmovereCore
import EmovereNN
import EmovereTensor

/// The result of comparing a layer's backward pass with central finite differences.
public struct GradientCheckResult: CustomStringConvertible {
    /// Worst relative error over the checked input elements (infinity where a value was NaN).
    public var inputError: Float
    /// Worst relative error over the checked parameter elements, by parameter name.
    public var parameterErrors: [String: Float]
    /// Checked elements and those whose error exceeded `tolerance`.
    public var checked = 0
    public var mismatched = 0
    /// The error above which an element counts as mismatched.
    public var tolerance: Float = 2e-2

    public var worst: Float { max(inputError, parameterErrors.values.max() ?? 0) }

    /// The share of checked elements that mismatched. Networks with ReLU and max pooling have kinks
    /// that a finite step can straddle, so for them a small share is expected; a wrong backward pass
    /// mismatches almost everywhere.
    public var mismatchFraction: Float { Float(mismatched) / Float(max(checked, 1)) }

    public var description: String {
        "input \(inputError), parameters \(parameterErrors.sorted { $0.key < $1.key }), \(mismatched)/\(checked) mismatched"
    }
}

/// Checks `layer`'s backward pass against central differences of the scalar loss `Σ forward(x) ⊙ r`
/// for a fixed random `r`, in Float64 arithmetic on the difference quotient.
///
/// Builds the layer for `inputShape` (per example), draws a batch of `batch` inputs, and compares up
/// to `samples` input elements and `samples` elements of every trainable parameter. Errors are
/// `|analytic - numeric| / max(1e-2, |analytic| + |numeric|)`.
public func gradientCheck(
    _ layer: any Layer, inputShape: [Int], batch: Int = 2, mode: ForwardMode = ForwardMode(isTraining: true),
    step: Float = 1e-3, samples: Int = 40, seed: UInt64 = 1
) throws -> GradientCheckResult {
    var random = SplitMix64(seed: seed)
    let outputShape = try layer.build(inputShape: inputShape, random: &random)
    let input = Tensor(shape: [batch] + inputShape, values: randomValues(batch * inputShape.reduce(1, *), seed: seed &+ 1))
    let outputCount = batch * outputShape.reduce(1, *)
    let weights = Tensor(shape: [batch] + outputShape, values: randomValues(outputCount, seed: seed &+ 2))

    func loss() -> Double {
        let output = layer.forward(input, mode: mode)
        var sum = 0.0
        for index in 0..<output.count { sum += Double(output[index]) * Double(weights[index]) }
        return sum
    }

    _ = layer.forward(input, mode: mode)
    let inputGradient = layer.backward(weights, needsInputGradient: true)!.values
    let trainable = layer.namedParameters.filter { $0.parameter.isTrainable }
    let analytic = trainable.map { $0.parameter.gradient.values }

    var checked = 0
    var mismatched = 0
    func numericError(of tensor: Tensor, analytic: [Float]) -> Float {
        var worst: Float = 0
        // A step sharing no factor with the element count visits every remainder modulo each trailing dimension's
        // product (every channel, every filter) as the samples allow: a step that was a multiple of the channels
        // checked one channel only.
        var stride = max(1, tensor.count / samples)
        while greatestCommonDivisor(stride, tensor.count) != 1 { stride += 1 }
        for index in Swift.stride(from: 0, to: tensor.count, by: stride) {
            let original = tensor[index]
            tensor[index] = original + step
            let plus = loss()
            tensor[index] = original - step
            let minus = loss()
            tensor[index] = original
            let numeric = Float((plus - minus) / (2 * Double(step)))
            let relative = abs(analytic[index] - numeric) / max(1e-2, abs(analytic[index]) + abs(numeric))
            // NaN (a gradient or loss gone NaN) is the worst error, not one `max` would skip.
            let error = relative.isNaN ? .infinity : relative
            worst = max(worst, error)
            checked += 1
            if error > 2e-2 { mismatched += 1 }
        }
        return worst
    }

    var result = GradientCheckResult(inputError: numericError(of: input, analytic: inputGradient), parameterErrors: [:])
    for (named, gradient) in zip(trainable, analytic) {
        result.parameterErrors[named.name] = numericError(of: named.parameter.value, analytic: gradient)
    }
    result.checked = checked
    result.mismatched = mismatched
    return result
}

private func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
    b == 0 ? a : greatestCommonDivisor(b, a % b)
}

/// Compares the directional derivative of `Σ forward(x) ⊙ r` along random directions over the input
/// and every trainable parameter at once: analytic `∇L · v` against `(L(θ + εv) - L(θ - εv)) / 2ε`.
///
/// Suited to whole networks. A step can straddle a ReLU or max-pool kink, which spoils the odd
/// direction, so the median relative error over `directions` directions is returned: a wrong backward
/// pass spoils every direction.
public func directionalGradientCheck(
    _ layer: any Layer, inputShape: [Int], batch: Int = 2, mode: ForwardMode = ForwardMode(isTraining: true),
    step: Float = 1e-4, directions: Int = 5, seed: UInt64 = 1
) throws -> Float {
    var random = SplitMix64(seed: seed)
    let outputShape = try layer.build(inputShape: inputShape, random: &random)
    let input = Tensor(shape: [batch] + inputShape, values: randomValues(batch * inputShape.reduce(1, *), seed: seed &+ 1))
    let weights = Tensor(shape: [batch] + outputShape,
                         values: randomValues(batch * outputShape.reduce(1, *), seed: seed &+ 2))
    let tensors = [input] + layer.namedParameters.filter { $0.parameter.isTrainable }.map { $0.parameter.value }

    func loss() -> Double {
        let output = layer.forward(input, mode: mode)
        var sum = 0.0
        for index in 0..<output.count { sum += Double(output[index]) * Double(weights[index]) }
        return sum
    }

    _ = layer.forward(input, mode: mode)
    guard let inputGradient = layer.backward(weights, needsInputGradient: true) else { return .infinity }
    let gradients = [inputGradient.values]
        + layer.namedParameters.filter { $0.parameter.isTrainable }.map { $0.parameter.gradient.values }
    var errors: [Float] = []
    for trial in 0..<directions {
        let vectors = tensors.indices.map { randomValues(tensors[$0].count, seed: seed &+ 100 &* UInt64(trial + 1) &+ UInt64($0)) }
        func move(by amount: Float) {
            for (tensor, direction) in zip(tensors, vectors) {
                for index in 0..<tensor.count { tensor[index] += amount * direction[index] }
            }
        }
        var analytic = 0.0
        for (gradient, direction) in zip(gradients, vectors) {
            for (g, v) in zip(gradient, direction) { analytic += Double(g) * Double(v) }
        }
        move(by: step)
        let plus = loss()
        move(by: -2 * step)
        let minus = loss()
        move(by: step)
        let numeric = (plus - minus) / (2 * Double(step))
        let error = Float(abs(analytic - numeric) / max(1e-6, abs(analytic) + abs(numeric)))
        errors.append(error.isNaN ? .infinity : error)
    }
    return errors.sorted()[errors.count / 2]
}
