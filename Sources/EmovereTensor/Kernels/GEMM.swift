// The one seam to the BLAS library: every matrix product in Emovere goes through `Gemm.multiply`.
// Shapes (row-major): C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n],
// op(A) = A or Aᵀ (A stored [k, m] when transposed), op(B) likewise.
// OpenBLAS on Linux, Accelerate on Apple platforms (Package.swift links one or the other).
#if canImport(Accelerate)
import Accelerate

/// The integer type of the BLAS interface (Accelerate's classic CBLAS: 32 bits).
private typealias BlasInteger = Int32
#else
import CBLAS

private typealias BlasInteger = blasint
#endif
import EmovereCore
import Foundation

/// Single-precision general matrix multiply behind one small seam.
public enum Gemm {
    /// Makes the BLAS library single-threaded: Emovere parallelises over the batch itself, and
    /// OpenBLAS's own threads are slower on these models' skinny shapes (measured with `emovere bench`); run
    /// from each worker, OpenBLAS's threads multiplied by the workers'. Idempotent; the first multiply calls it
    /// too, so programs using the library get it without asking.
    /// (Accelerate has no such switch; its threads follow `VECLIB_MAXIMUM_THREADS`.)
    public static func configureThreads() {
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)
        #endif
    }

    /// Set once, by the first multiply.
    private static let singleThreaded: Void = configureThreads()

    /// A short description of the BLAS library and the kernel it selected, for benchmarks.
    public static var libraryDescription: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        let config = openblas_get_config().map { String(cString: $0) } ?? "OpenBLAS"
        return "\(config) (core \(coreName))"
        #endif
    }

    /// The name of the kernel family OpenBLAS chose for this CPU (e.g. `Haswell`, `SkylakeX`; `Accelerate` there).
    public static var coreName: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        return openblas_get_corename().map { String(cString: $0) } ?? "unknown"
        #endif
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
            if beta == 0 {
                c.update(repeating: 0, count: m * n)
            } else if beta != 1 {
                for index in 0..<(m * n) { c[index] *= beta }
            }
            return
        }
        _ = singleThreaded
        let lda = transposeA ? m : k
        let ldb = transposeB ? k : n
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            BlasInteger(m), BlasInteger(n), BlasInteger(k), alpha, a, BlasInteger(lda), b, BlasInteger(ldb), beta, c,
            BlasInteger(n))
    }
}
