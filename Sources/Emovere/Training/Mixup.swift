import EmovereCore
import EmovereTensor

/// Mixup (Zhang et al. 2018): blends each example with the batch's reversed order using λ ~ Beta(α, α).
enum Mixup {
    static func apply(input: Tensor, targets: Tensor, alpha: Float, random: inout SplitMix64) {
        let lambda = beta(alpha, random: &random)
        mix(input, lambda: lambda)
        mix(targets, lambda: lambda)
    }

    /// `row[i] = λ row[i] + (1 - λ) row[n - 1 - i]` for the rows of `tensor` `[n, ...]`, in place.
    private static func mix(_ tensor: Tensor, lambda: Float) {
        let rows = tensor.shape[0]
        let width = tensor.count / rows
        let copy = tensor.copy()
        for row in 0..<rows {
            let partner = rows - 1 - row
            for index in 0..<width {
                tensor[row * width + index] = lambda * copy[row * width + index]
                    + (1 - lambda) * copy[partner * width + index]
            }
        }
    }

    /// A Beta(α, α) sample from two Gamma(α) samples (Marsaglia and Tsang).
    static func beta(_ alpha: Float, random: inout SplitMix64) -> Float {
        let x = gamma(alpha, random: &random)
        let y = gamma(alpha, random: &random)
        return x / max(x + y, 1e-12)
    }

    private static func gamma(_ shape: Float, random: inout SplitMix64) -> Float {
        if shape < 1 {
            return gamma(shape + 1, random: &random) * Float.pow(max(random.nextUnit(), 1e-12), 1 / shape)
        }
        let d = shape - 1 / 3
        let c = 1 / (9 * d).squareRoot()
        while true {
            let x = random.nextGaussian()
            let v = 1 + c * x
            if v <= 0 { continue }
            let v3 = v * v * v
            let u = random.nextUnit()
            if Float.log(max(u, 1e-12)) < 0.5 * x * x + d - d * v3 + d * Float.log(v3) { return d * v3 }
        }
    }
}

extension Float {
    static func pow(_ x: Float, _ y: Float) -> Float { Foundation.pow(x, y) }
    static func log(_ x: Float) -> Float { Foundation.log(x) }
}

import Foundation
