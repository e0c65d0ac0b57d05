import EmovereCore
import EmovereTensor

/// The largest `|a - b| / (atol + rtol * |b|)` over two equally long arrays; at most 1 means "close".
///
/// Tests assert `closeness(actual, expected, ...) <= 1` so a failure prints how far off it was.
public func closeness(_ actual: [Float], _ expected: [Float], relativeTolerance: Float = 1e-4,
                      absoluteTolerance: Float = 1e-5) -> Float {
    precondition(actual.count == expected.count, "closeness compares \(actual.count) with \(expected.count) values")
    var worst: Float = 0
    for (a, b) in zip(actual, expected) {
        if a.isNaN || b.isNaN { return .infinity }
        worst = max(worst, abs(a - b) / (absoluteTolerance + relativeTolerance * abs(b)))
    }
    return worst
}

/// Deterministic pseudo-random values in `range`, for test inputs (SplitMix64 from `seed`).
public func randomValues(_ count: Int, seed: UInt64, in range: ClosedRange<Float> = -1...1) -> [Float] {
    var random = SplitMix64(seed: seed)
    return (0..<count).map { _ in random.nextFloat(in: range) }
}
