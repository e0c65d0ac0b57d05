import CEmovereCPU
import EmovereCore
import Foundation

/// The multiply-adds per second this CPU sustains with an instruction set's vectors when nothing waits on memory,
/// measured by `emovere_multiply_add_chains` (twelve independent vector chains per worker). `emovere bench` divides
/// its figures by it, so a speed also reads as the share of what the machine can do.
public struct ArithmeticPeak: Sendable, CustomStringConvertible {
    /// The vectors measured.
    public let instructionSet: InstructionSet
    /// Multiply-adds per second on one worker alone.
    public let perWorker: Double
    /// Multiply-adds per second with `workers` workers running at once.
    public let allWorkers: Double
    /// The workers of the all-at-once measurement (`Parallel.workerCount`).
    public let workers: Int

    /// Measures `instructionSet`: one worker alone, then every worker at once, each run lasting up to `seconds`.
    public static func measure(instructionSet: InstructionSet = .detected, seconds: Double = 0.25) -> ArithmeticPeak {
        // Iterations that take between `seconds / 2` and `seconds` on one worker.
        var iterations = 1 << 16
        var alone = Stopwatch.measure { probe(instructionSet, iterations: iterations) }.seconds
        while alone < seconds / 2 && iterations < 1 << 40 {
            iterations *= 2
            alone = Stopwatch.measure { probe(instructionSet, iterations: iterations) }.seconds
        }
        let workers = Parallel.workerCount
        let calibrated = iterations
        let together = Stopwatch.measure {
            Parallel.forEachChunk(workers, maximumChunks: workers) { _, range in
                for _ in range { _ = probe(instructionSet, iterations: calibrated) }
            }
        }.seconds
        let work = Double(multiplyAdds(instructionSet, iterations: calibrated))
        return ArithmeticPeak(instructionSet: instructionSet, perWorker: work / alone,
                              allWorkers: Double(workers) * work / together, workers: workers)
    }

    /// The probe's result: the sum over twelve vectors' lanes after `iterations` rounds of `a = a * 0.999 + 0.001`
    /// from lane values 0 ... 11 (its reference twin is the same recurrence on scalars).
    public static func probe(_ instructionSet: InstructionSet, iterations: Int) -> Float {
        emovere_multiply_add_chains(instructionSet.cValue, iterations, 0.999, 0.001)
    }

    /// The multiply-adds of one probe: `12 * lanes * iterations`.
    public static func multiplyAdds(_ instructionSet: InstructionSet, iterations: Int) -> Int {
        12 * instructionSet.lanes * iterations
    }

    /// The share of `allWorkers` that `multiplyAddsPerSecond` is, in percent.
    public func percent(of multiplyAddsPerSecond: Double) -> Double {
        100 * multiplyAddsPerSecond / allWorkers
    }

    public var description: String {
        let alone = String(format: "%.1f", perWorker / 1e9), together = String(format: "%.1f", allWorkers / 1e9)
        return "multiply-add peak (\(instructionSet) vectors, no memory traffic): \(alone) G/s on one worker, "
            + "\(together) G/s on \(workers)"
    }
}
