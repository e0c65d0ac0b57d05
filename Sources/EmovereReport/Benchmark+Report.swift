import Emovere
import EmovereTensor
import Foundation

extension Benchmark.Measurement {
    /// One line of `emovere bench`'s table: the name, images per second and images per CPU-second, and the
    /// multiply-adds per second with their share of `peak` when given (a float32 peak: bfloat16 figures can pass it).
    public func formatted(peak: ArithmeticPeak? = nil) -> String {
        let line = String(format: "%-40@ %10.0f images/s  (%.0f per CPU-second)", name as NSString, imagesPerSecond,
                          imagesPerCPUSecond)
        guard let peak else { return line }
        return line + String(format: ", %.1f G multiply-adds/s, %.0f %% of the %@peak", multiplyAddsPerSecond / 1e9,
                             peak.percent(of: multiplyAddsPerSecond), precision == .float32 ? "" : "float32 ")
    }
}
