import CEmovereCPU
import EmovereCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

// Elementwise and reduction kernels on flat float buffers. Matrices are row-major [rows, columns];
// NHWC tensors are [N*H*W, C] matrices here (channels innermost).

/// Elementwise maps, row-vector broadcasts and reductions.
public enum Elementwise {
    /// `matrix[r, c] += vector[c]` for a `[rows, columns]` matrix.
    @inlinable
    public static func addRowVector(
        _ vector: UnsafePointer<Float>, to matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int
    ) {
        var row = matrix
        for _ in 0..<rows {
            for column in 0..<columns { row[column] += vector[column] }
            row += columns
        }
    }

    /// `matrix[r, c] = max(matrix[r, c] + bias[c], 0)` when `relu`, else `matrix[r, c] + bias[c]`;
    /// a nil `bias` adds nothing. The epilogue of a convolution, applied while its rows are in cache.
    @inlinable
    public static func addBiasAndClamp(
        _ bias: UnsafePointer<Float>?, to matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int, relu: Bool
    ) {
        let floor: Float = relu ? 0 : -.infinity
        var row = matrix
        if let bias {
            for _ in 0..<rows {
                for column in 0..<columns { row[column] = max(row[column] + bias[column], floor) }
                row += columns
            }
        } else {
            for index in 0..<(rows &* columns) { matrix[index] = max(matrix[index], floor) }
        }
    }

    /// `result[c] = Σ_r matrix[r, c]` (overwrites `result[0..<columns]`).
    @inlinable
    public static func sumRows(
        _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into result: UnsafeMutablePointer<Float>
    ) {
        result.update(repeating: 0, count: columns)
        var row = matrix
        for _ in 0..<rows {
            for column in 0..<columns { result[column] += row[column] }
            row += columns
        }
    }

    /// `result[i] = Σ_chunk source[chunk * chunkStride + i]` for `i < count` (overwrites).
    @inlinable
    public static func sumChunks(
        _ source: UnsafePointer<Float>, chunkCount: Int, chunkStride: Int, count: Int,
        into result: UnsafeMutablePointer<Float>
    ) {
        result.update(from: source, count: count)
        for chunk in 1..<max(chunkCount, 1) {
            let part = source + chunk &* chunkStride
            for index in 0..<count { result[index] += part[index] }
        }
    }

    /// `output = max(input, 0)`, a NaN kept (any shape; in place allowed).
    public static func relu(_ input: Tensor, into output: Tensor, instructionSet: InstructionSet = .detected) {
        precondition(input.count == output.count, "relu expects equal sizes")
        map(count: input.count) { range in
            emovere_add(instructionSet.cValue, input.pointer + range.lowerBound, nil, 1, range.count,
                        output.pointer + range.lowerBound)
        }
    }

    /// `inputGradient = output > 0 ? outputGradient : 0`, from the ReLU's `output`; when `guided` (guided
    /// backpropagation), only positive gradients pass: `output > 0 ? max(outputGradient, 0) : 0`. In place allowed.
    public static func reluBackward(output: Tensor, outputGradient: Tensor, guided: Bool = false,
                                    into inputGradient: Tensor, instructionSet: InstructionSet = .detected) {
        precondition(output.count == outputGradient.count && output.count == inputGradient.count,
                     "reluBackward expects equal sizes")
        map(count: output.count) { range in
            emovere_relu_backward(instructionSet.cValue, output.pointer + range.lowerBound,
                                  outputGradient.pointer + range.lowerBound, guided ? 1 : 0, range.count,
                                  inputGradient.pointer + range.lowerBound)
        }
    }

    /// `output = a + b`, then `max(·, 0)` (a NaN kept) when `relu` (same element counts; `output` may alias `a`
    /// or `b`).
    public static func add(_ a: Tensor, _ b: Tensor, relu: Bool = false, into output: Tensor,
                           instructionSet: InstructionSet = .detected) {
        precondition(a.count == b.count && a.count == output.count, "add expects equal sizes")
        map(count: a.count) { range in
            emovere_add(instructionSet.cValue, a.pointer + range.lowerBound, b.pointer + range.lowerBound,
                        relu ? 1 : 0, range.count, output.pointer + range.lowerBound)
        }
    }

    /// Runs `body` over chunks of `0..<count`, split over the workers above `Parallel.elementwiseGrain` elements each.
    private static func map(count: Int, _ body: @Sendable (Range<Int>) -> Void) {
        Parallel.forEachChunk(count, minimumChunk: Parallel.elementwiseGrain) { _, range in body(range) }
    }

    /// `output = 1 / (1 + exp(-input))` over `count` elements (in place allowed).
    public static func sigmoid(_ input: Tensor, into output: Tensor) {
        precondition(input.count == output.count, "sigmoid expects equal sizes")
        let x = UnsafeSendable(input.pointer)
        let y = UnsafeSendable(output.pointer)
        Parallel.forEachChunk(input.count, minimumChunk: Parallel.elementwiseGrain) { _, range in
            for index in range { y.value[index] = 1 / (1 + expf(-x.value[index])) }
        }
    }

    /// `inputGradient = outputGradient * output * (1 - output)`, the gradient of `sigmoid` given its output.
    public static func sigmoidBackward(output: Tensor, outputGradient: Tensor, into inputGradient: Tensor) {
        let y = UnsafeSendable(output.pointer)
        let dy = UnsafeSendable(outputGradient.pointer)
        let dx = UnsafeSendable(inputGradient.pointer)
        Parallel.forEachChunk(output.count, minimumChunk: Parallel.elementwiseGrain) { _, range in
            for index in range { dx.value[index] = dy.value[index] * y.value[index] * (1 - y.value[index]) }
        }
    }

    /// `output = input * mask` where `mask` holds 0 or `1 / keep` (inverted dropout).
    public static func multiply(_ input: Tensor, _ mask: Tensor, into output: Tensor) {
        precondition(input.count == mask.count && input.count == output.count, "multiply expects equal sizes")
        let x = UnsafeSendable(input.pointer)
        let m = UnsafeSendable(mask.pointer)
        let y = UnsafeSendable(output.pointer)
        Parallel.forEachChunk(input.count, minimumChunk: Parallel.elementwiseGrain) { _, range in
            for index in range { y.value[index] = x.value[index] * m.value[index] }
        }
    }
}
