import ArgumentParser
import EmovereCore
import EmovereTensor
import Foundation

/// The arithmetic of the commands that run a model forward only (`analyze`, `video`, `live`, `serve`, `evaluate`).
struct PrecisionOptions: ParsableArguments {
    @Option(help: "The model's arithmetic: float32, or bfloat16 (bfloat16 multiplications with single-precision sums in the convolutions: faster on AMD CPUs with AVX512_BF16 and Intel CPUs with AMX tiles, probabilities within about 0.01; elsewhere float32 runs).")
    var precision = Precision.float32
}

extension Precision: ExpressibleByArgument {
    /// Prints `fallbackNote` on standard error when float32 runs instead of this precision.
    func noteFallback() {
        if !isSupported { StandardError.write(Self.fallbackNote + "\n") }
    }
}
