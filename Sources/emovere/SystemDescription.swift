import EmovereCore
import EmovereTensor

/// What `info --system` and `bench` print about the machine: the kernels chosen for its CPU, the BLAS library and
/// the number of workers.
enum SystemDescription {
    /// Configures the BLAS threads first, so the description is what a command then runs with.
    static var current: String {
        Gemm.configureThreads()
        var lines = [
            "kernels: \(InstructionSet.detected.summary); this CPU runs \(InstructionSet.available.map(\.description).joined(separator: ", "))",
            "BLAS: \(Gemm.libraryDescription); workers: \(Parallel.workerCount)",
            "precisions: " + Precision.allCases.filter(\.isSupported).map(\.description).joined(separator: ", ")
                + (Precision.isBFloat16Supported ? " (AVX512_BF16)" : " (bfloat16 needs AVX512_BF16)"),
        ]
        return lines.joined(separator: "\n")
    }
}
