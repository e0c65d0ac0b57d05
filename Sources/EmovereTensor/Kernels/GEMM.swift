// The one seam to the BLAS library: every matrix product in Emovere goes through `Gemm.multiply`.
// Shapes (row-major): C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n],
// op(A) = A or Aᵀ (A stored [k, m] when transposed), op(B) likewise.
// An Accelerate path for macOS/iOS is one `#if canImport(Accelerate)` in this file.
import CBLAS
import EmovereCore
import Foundation

/// Single-precision general matrix multiply behind one small seam.
public enum Gemm {
    /// Makes the BLAS library single-threaded: Emovere parallelises over the batch itself, and
    /// OpenBLAS's own threads are slower on these models' skinny shapes (measured with `emovere bench`).
    /// Idempotent; call before the first multiply.
    public static func configureThreads() {
        openblas_set_num_threads(1)
    }

    /// A short description of the BLAS library and the kernel it selected, for benchmarks.
    public static var libraryDescription: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "OpenBLAS"
        return "\(config) (core \(coreName))"
    }

    /// The name of the kernel family OpenBLAS chose for this CPU (e.g. `Haswell`, `SkylakeX`).
    public static var coreName: String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    /// `C[m, n] = alpha * op(A) * op(B) + beta * C` with leading dimensions given by the stored layouts.
    ///
    /// - Parameters:
    ///   - a: `[m, k]`, or `[k, m]` when `transposeA`.
    ///   - b: `[k, n]`, or `[n, k]` when `transposeB`.
    ///   - c: `[m, n]`, read when `beta != 0`.
    public static func multiply(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int,
        transposeA: Bool = false, transposeB: Bool = false,
        alpha: Float = 1, beta: Float = 0
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 { c.update(repeating: 0, count: m * n) }
            return
        }
        let lda = transposeA ? m : k
        let ldb = transposeB ? k : n
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(n))
    }
}
