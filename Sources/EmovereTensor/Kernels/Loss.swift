// Softmax and softmax cross-entropy over logits [N, K] with soft targets [N, K]
// (one-hot, label-smoothed or mixed-up) and optional per-sample weights [N].

/// Loss kernels.
public enum Loss {
    /// Row-wise softmax of `logits` `[N, K]` into `probabilities` `[N, K]` (numerically stable).
    public static func softmax(_ logits: UnsafePointer<Float>, rows: Int, classes: Int,
                               into probabilities: UnsafeMutablePointer<Float>) {
        for row in 0..<rows {
            let z = logits + row &* classes
            let p = probabilities + row &* classes
            var maximum = -Float.infinity
            for k in 0..<classes { maximum = max(maximum, z[k]) }
            var sum: Float = 0
            for k in 0..<classes {
                p[k] = expf(z[k] - maximum)
                sum += p[k]
            }
            let inverse = 1 / sum
            for k in 0..<classes { p[k] *= inverse }
        }
    }

    /// Mean weighted cross-entropy `-(1/N) Σ_n w_n Σ_k t[n,k] log softmax(z)[n,k]`.
    ///
    /// - Parameters:
    ///   - logits: `[N, K]`.
    ///   - targets: `[N, K]`, each row a probability distribution.
    ///   - sampleWeights: `[N]` or nil (all 1).
    ///   - probabilities: `[N, K]`, receives the softmax.
    ///   - logitsGradient: `[N, K]`, receives `w_n (softmax - t) / N`.
    /// - Returns: the mean loss.
    public static func softmaxCrossEntropy(
        logits: Tensor, targets: Tensor, sampleWeights: UnsafePointer<Float>?,
        probabilities: Tensor, logitsGradient: Tensor
    ) -> Float {
        let rows = logits.shape[0]
        let classes = logits.count / max(rows, 1)
        softmax(logits.pointer, rows: rows, classes: classes, into: probabilities.pointer)
        var total: Double = 0
        let scale = 1 / Float(max(rows, 1))
        for row in 0..<rows {
            let z = logits.pointer + row * classes
            let p = probabilities.pointer + row * classes
            let t = targets.pointer + row * classes
            let g = logitsGradient.pointer + row * classes
            let weight = sampleWeights?[row] ?? 1
            // log softmax(z)[k] = z[k] - max - log Σ exp(z - max), exact where p[k] underflows to 0
            // (soft targets on a confident model would otherwise clamp the loss).
            var maximum = -Float.infinity
            for k in 0..<classes { maximum = max(maximum, z[k]) }
            var sum: Float = 0
            for k in 0..<classes { sum += expf(z[k] - maximum) }
            let logSum = logf(sum)
            var rowLoss: Float = 0
            for k in 0..<classes {
                if t[k] > 0 { rowLoss -= t[k] * (z[k] - maximum - logSum) }
                g[k] = weight * (p[k] - t[k]) * scale
            }
            total += Double(weight * rowLoss)
        }
        return Float(total / Double(max(rows, 1)))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin

#elseif canImport(Musl)

import Musl
#endif
