// Batch normalisation over NHWC activations seen as [M = N*H*W, C]: per-channel statistics,
// y = (x - mean) * invStd * gamma + beta. Statistics are summed per chunk of rows in Double
// and combined in a fixed order, so results do not depend on thread timing.

/// Batch-normalisation kernels.
public enum Normalization {
    /// Per-channel batch mean and biased variance of `input` `[M, C]` into `mean[C]` and `variance[C]`.
    public static func statistics(_ input: Tensor, channels: Int, mean: Tensor, variance: Tensor) {
        let rows = input.count / channels
        let grain = Parallel.elementwiseGrain / max(channels, 1)
        let chunks = Parallel.chunks(rows, minimumChunk: grain)
        var partial = [Double](repeating: 0, count: chunks.count * 2 * channels)
        let x = UnsafeSendable(input.pointer)
        partial.withUnsafeMutableBufferPointer { buffer in
            let parts = UnsafeSendable(buffer.baseAddress!)
            Parallel.forEachChunk(rows, minimumChunk: grain) { chunk, range in
                let sum = parts.value + chunk &* 2 &* channels
                let sumOfSquares = sum + channels
                var row = UnsafePointer(x.value) + range.lowerBound &* channels
                for _ in range {
                    for c in 0..<channels {
                        let value = Double(row[c])
                        sum[c] += value
                        sumOfSquares[c] += value * value
                    }
                    row += channels
                }
            }
        }
        let count = Double(max(rows, 1))
        for c in 0..<channels {
            var sum = 0.0
            var sumOfSquares = 0.0
            for chunk in 0..<chunks.count {
                sum += partial[chunk * 2 * channels + c]
                sumOfSquares += partial[chunk * 2 * channels + channels + c]
            }
            let m = sum / count
            mean[c] = Float(m)
            variance[c] = Float(max(sumOfSquares / count - m * m, 0))
        }
    }

    /// `output[m, c] = (input[m, c] - mean[c]) * scale[c] + shift[c]`, the affine form of batch norm
    /// (`scale = gamma * invStd`, `shift = beta`).
    public static func normalize(
        _ input: Tensor, channels: Int, mean: UnsafePointer<Float>, scale: UnsafePointer<Float>,
        shift: UnsafePointer<Float>, into output: Tensor
    ) {
        let rows = input.count / channels
        let grain = Parallel.elementwiseGrain / max(channels, 1)
        let x = UnsafeSendable(input.pointer)
        let y = UnsafeSendable(output.pointer)
        let meanPointer = UnsafeSendable(UnsafeMutablePointer(mutating: mean))
        let scalePointer = UnsafeSendable(UnsafeMutablePointer(mutating: scale))
        let shiftPointer = UnsafeSendable(UnsafeMutablePointer(mutating: shift))
        Parallel.forEachChunk(rows, minimumChunk: grain) { _, range in
            let mu = meanPointer.value
            let s = scalePointer.value
            let b = shiftPointer.value
            var inRow = x.value + range.lowerBound &* channels
            var outRow = y.value + range.lowerBound &* channels
            for _ in range {
                for c in 0..<channels { outRow[c] = (inRow[c] - mu[c]) * s[c] + b[c] }
                inRow += channels
                outRow += channels
            }
        }
    }

    /// Backward pass of training-mode batch norm.
    ///
    /// With `xhat = (x - mean) * invStd`: `dBeta = Σ dy`, `dGamma = Σ dy * xhat`,
    /// `dx = gamma * invStd / M * (M * dy - dBeta - xhat * dGamma)`.
    /// - Parameters: `input`, `outputGradient`, `inputGradient` are `[M, C]`; the rest `[C]`.
    public static func backward(
        input: Tensor, outputGradient: Tensor, channels: Int, mean: Tensor, inverseStandardDeviation: Tensor,
        gamma: Tensor, gammaGradient: Tensor, betaGradient: Tensor, inputGradient: Tensor
    ) {
        let rows = input.count / channels
        let grain = Parallel.elementwiseGrain / max(channels, 1)
        let chunks = Parallel.chunks(rows, minimumChunk: grain)
        var partial = [Double](repeating: 0, count: chunks.count * 2 * channels)
        let x = UnsafeSendable(input.pointer)
        let dy = UnsafeSendable(outputGradient.pointer)
        let mu = UnsafeSendable(mean.pointer)
        let inv = UnsafeSendable(inverseStandardDeviation.pointer)
        partial.withUnsafeMutableBufferPointer { buffer in
            let parts = UnsafeSendable(buffer.baseAddress!)
            Parallel.forEachChunk(rows, minimumChunk: grain) { chunk, range in
                let sumDy = parts.value + chunk &* 2 &* channels
                let sumDyXhat = sumDy + channels
                var inRow = x.value + range.lowerBound &* channels
                var gradRow = dy.value + range.lowerBound &* channels
                for _ in range {
                    for c in 0..<channels {
                        let g = Double(gradRow[c])
                        sumDy[c] += g
                        sumDyXhat[c] += g * Double((inRow[c] - mu.value[c]) * inv.value[c])
                    }
                    inRow += channels
                    gradRow += channels
                }
            }
        }
        let count = Float(max(rows, 1))
        var a = [Float](repeating: 0, count: channels)  // gamma * invStd
        var b = [Float](repeating: 0, count: channels)  // dBeta / M
        var d = [Float](repeating: 0, count: channels)  // dGamma / M
        for c in 0..<channels {
            var sumDy = 0.0
            var sumDyXhat = 0.0
            for chunk in 0..<chunks.count {
                sumDy += partial[chunk * 2 * channels + c]
                sumDyXhat += partial[chunk * 2 * channels + channels + c]
            }
            betaGradient[c] = Float(sumDy)
            gammaGradient[c] = Float(sumDyXhat)
            a[c] = gamma[c] * inverseStandardDeviation[c]
            b[c] = Float(sumDy) / count
            d[c] = Float(sumDyXhat) / count
        }
        let dx = UnsafeSendable(inputGradient.pointer)
        a.withUnsafeBufferPointer { aBuffer in
            b.withUnsafeBufferPointer { bBuffer in
                d.withUnsafeBufferPointer { dBuffer in
                    let pa = UnsafeSendable(UnsafeMutablePointer(mutating: aBuffer.baseAddress!))
                    let pb = UnsafeSendable(UnsafeMutablePointer(mutating: bBuffer.baseAddress!))
                    let pd = UnsafeSendable(UnsafeMutablePointer(mutating: dBuffer.baseAddress!))
                    Parallel.forEachChunk(rows, minimumChunk: grain) { _, range in
                        var inRow = x.value + range.lowerBound &* channels
                        var gradRow = dy.value + range.lowerBound &* channels
                        var outRow = dx.value + range.lowerBound &* channels
                        for _ in range {
                            for c in 0..<channels {
                                let xhat = (inRow[c] - mu.value[c]) * inv.value[c]
                                outRow[c] = pa.value[c] * (gradRow[c] - pb.value[c] - xhat * pd.value[c])
                            }
                            inRow += channels
                            gradRow += channels
                            outRow += channels
                        }
                    }
                }
            }
        }
    }
}
