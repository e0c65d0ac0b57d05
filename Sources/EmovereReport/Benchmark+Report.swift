import Emovere
import Foundation

extension Benchmark.Measurement {
    /// One line of `emovere bench`'s table: the name, images per second and images per CPU-second.
    public var formatted: String {
        String(format: "%-40@ %10.0f images/s  (%.0f per CPU-second)", name as NSString, imagesPerSecond,
               imagesPerCPUSecond)
    }
}
