import EmovereCore
import EmovereTensor
import Foundation

/// What `info --system` and `bench` print about the machine: the kernels chosen for its CPU, the BLAS library, the
/// number of workers and the inference precisions it runs.
enum SystemDescription {
    /// The most memory this process has held resident so far (`getrusage`'s maximum resident set size), in bytes.
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if canImport(Glibc)
        let who = __rusage_who_t(RUSAGE_SELF.rawValue)  // an enum in Glibc's headers, an int elsewhere
        #else
        let who = RUSAGE_SELF
        #endif
        guard getrusage(who, &usage) == 0 else { return 0 }
        #if canImport(Darwin)
        return Int(usage.ru_maxrss)  // bytes on macOS
        #else
        return Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
        #endif
    }

    /// Configures the BLAS threads first, so the description is what a command then runs with.
    static var current: String {
        Gemm.configureThreads()
        return [
            "kernels: \(InstructionSet.detected.summary); this CPU runs \(InstructionSet.available.map(\.description).joined(separator: ", "))",
            "BLAS: \(Gemm.libraryDescription); workers: \(Parallel.workerCount)",
            "precisions: " + Precision.allCases.filter(\.isSupported).map(\.description).joined(separator: ", ")
                + (Precision.isBFloat16Supported ? " (AVX512_BF16\(bfloat16Tiles))" : " (bfloat16 needs AVX512_BF16)"),
        ].joined(separator: "\n")
    }

    /// Where the bfloat16 convolutions run on AMX tiles, or the CPU has tiles that `EMOVERE_MATRIX_TILES=0` turned off.
    private static var bfloat16Tiles: String {
        Precision.usesMatrixTiles ? ", AMX tiles" : Precision.isMatrixTilesSupported ? ", AMX tiles off" : ""
    }
}
