import CEmovereCPU
import EmovereCore

// Batch normalisation over NHWC activations seen as [M = N*H*W, C]: per-channel statistics,
// y = (x - mean) * invStd * gamma + beta, optionally followed by ReLU (fused, one pass fewer).
// Reductions add blocks of rows (`blockRows`) in Float, then each block into Double per chunk of rows;
// chunks combine in a fixed order, so results do not depend on thread timing.

/// Batch-normalisation kernels.
public enum Normalization {
    /// Rows summed in Float before each flush into the Double totals: 64, or 2,048 values where channels are few.
    static func blockRows(channels: Int) -> Int { max(64, 2048 / max(channels, 1)) }

    /// Per-channel batch mean and biased variance of `input` `[M, C]` into `mean[C]` and `variance[C]`.
    public static func statistics(_ input: Tensor, channels: Int, mean: Tensor, variance: Tensor,
                                  instructionSet: InstructionSet = .detected) {
        let x = UnsafeSendable(input.pointer)
        let isa = instructionSet.cValue
        let totals = reduce(rows: input.count / channels, channels: channels) { range, first, second in
            emovere_norm_moments(isa, x.value + range.lowerBound &* channels, range.count, channels, first, second)
        }
        let count = Double(max(input.count / channels, 1))
        for c in 0..<channels {
            let m = totals[c] / count
            mean[c] = Float(m)
            variance[c] = Float(max(totals[channels + c] / count - m * m, 0))
        }
    }

    /// `output[m, c] = (input[m, c] - mean[c]) * scale[c] + shift[c]`, the affine form of batch norm
    /// (`scale = gamma * invStd`, `shift = beta`), then `max(·, 0)` when `relu`.
    public static func normalize(
        _ input: Tensor, channels: Int, mean: UnsafePointer<Float>, scale: UnsafePointer<Float>,
        shift: UnsafePointer<Float>, relu: Bool = false, into output: Tensor, instructionSet: InstructionSet = .detected
    ) {
        let x = UnsafeSendable(input.pointer)
        let y = UnsafeSendable(output.pointer)
        let mu = UnsafeSendable(UnsafeMutablePointer(mutating: mean))
        let s = UnsafeSendable(UnsafeMutablePointer(mutating: scale))
        let b = UnsafeSendable(UnsafeMutablePointer(mutating: shift))
        let floor: Float = relu ? 0 : -.infinity
        let isa = instructionSet.cValue
        Parallel.forEachChunk(input.count / channels, minimumChunk: grain(channels)) { _, range in
            let offset = range.lowerBound &* channels
            emovere_norm_apply(isa, x.value + offset, mu.value, s.value, b.value, floor, range.count, channels,
                               y.value + offset)
        }
    }

    /// Backward pass of batch norm (and of the fused ReLU when `fusedReLU` gives the `scale` and `shift` its forward
    /// pass used, as `normalize(relu: true)` did: the gradient passes only where that output was positive, and with
    /// `guidedReLU` only where it is positive too; the kernels recompute the output's sign from `input` rather than
    /// read the output back, one stream of memory fewer in both passes).
    ///
    /// With `xhat = (x - mean) * invStd`: `dBeta = Σ dy`, `dGamma = Σ dy * xhat`. When the forward pass used
    /// the batch's statistics, `dx = gamma * invStd / M * (M * dy - dBeta - xhat * dGamma)`; when it used
    /// running statistics (`usesBatchStatistics` false; `mean` and `inverseStandardDeviation` are then the
    /// running ones), they are constants and `dx = gamma * invStd * dy`.
    /// - Parameters: `input`, `outputGradient`, `inputGradient` are `[M, C]`; the rest `[C]`.
    public static func backward(
        input: Tensor, outputGradient: Tensor, channels: Int, mean: Tensor, inverseStandardDeviation: Tensor,
        gamma: Tensor, gammaGradient: Tensor, betaGradient: Tensor, inputGradient: Tensor,
        fusedReLU: (scale: Tensor, shift: Tensor)? = nil, guidedReLU: Bool = false, usesBatchStatistics: Bool = true,
        instructionSet: InstructionSet = .detected
    ) {
        let rows = input.count / channels
        let x = UnsafeSendable(input.pointer)
        let dy = UnsafeSendable(outputGradient.pointer)
        let mu = UnsafeSendable(mean.pointer)
        let inv = UnsafeSendable(inverseStandardDeviation.pointer)
        let affine = fusedReLU.map { UnsafeSendable((scale: $0.scale.pointer, shift: $0.shift.pointer)) }
        let floor: Float = guidedReLU ? 0 : -.infinity
        let isa = instructionSet.cValue
        let totals = reduce(rows: rows, channels: channels) { range, sumDy, sumDyXhat in
            let offset = range.lowerBound &* channels
            emovere_norm_backward_sums(isa, x.value + offset, dy.value + offset, mu.value, inv.value,
                                       affine?.value.scale, affine?.value.shift, floor, range.count, channels, sumDy,
                                       sumDyXhat)
        }
        let count = Float(max(rows, 1))
        // Per channel: dx = a * (g - b - xhat * d); the batch terms b and d vanish with constant statistics.
        let batchTerms: Float = usesBatchStatistics ? 1 : 0
        let coefficients = Tensor(shape: [3, channels])
        for c in 0..<channels {
            betaGradient[c] = Float(totals[c])
            gammaGradient[c] = Float(totals[channels + c])
            coefficients[c] = gamma[c] * inverseStandardDeviation[c]
            coefficients[channels + c] = batchTerms * Float(totals[c]) / count
            coefficients[2 * channels + c] = batchTerms * Float(totals[channels + c]) / count
        }
        let dx = UnsafeSendable(inputGradient.pointer)
        let k = UnsafeSendable(coefficients.pointer)
        Parallel.forEachChunk(rows, minimumChunk: grain(channels)) { _, range in
            let offset = range.lowerBound &* channels
            emovere_norm_backward_apply(isa, x.value + offset, dy.value + offset, mu.value, inv.value,
                                        affine?.value.scale, affine?.value.shift, k.value, k.value + channels,
                                        k.value + 2 * channels, floor, range.count, channels, dx.value + offset)
        }
    }

    /// Rows per chunk below which the work stays on one thread.
    static func grain(_ channels: Int) -> Int { Parallel.elementwiseGrain / max(channels, 1) }

    /// Two per-channel sums over `rows`, returned as `[first[C], second[C]]` in Double.
    /// `accumulate(range, first, second)` adds the rows of `range` (at most `blockRows` rows) into the two
    /// Float accumulators; each block is then added into the chunk's Double totals.
    private static func reduce(
        rows: Int, channels: Int,
        _ accumulate: @Sendable (Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) -> [Double] {
        let chunks = Parallel.chunks(rows, minimumChunk: grain(channels))
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: chunks.count * 2 * channels)
        partial.initialize(repeating: 0, count: chunks.count * 2 * channels)
        defer { partial.deallocate() }
        let parts = UnsafeSendable(partial)
        Parallel.forEachChunk(rows, minimumChunk: grain(channels)) { chunk, range in
            let totals = parts.value + chunk &* 2 &* channels
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * channels)
            defer { scratch.deallocate() }
            let block = blockRows(channels: channels)
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(start + block, range.upperBound)
                scratch.initialize(repeating: 0, count: 2 * channels)
                accumulate(start..<end, scratch, scratch + channels)
                for index in 0..<(2 * channels) { totals[index] += Double(scratch[index]) }
                start = end
            }
        }
        var result = [Double](repeating: 0, count: 2 * channels)
        for chunk in 0..<chunks.count {
            for index in 0..<(2 * channels) { result[index] += partial[chunk * 2 * channels + index] }
        }
        return result
    }
}
