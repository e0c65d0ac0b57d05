#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// Measures elapsed wall-clock time with the monotonic `ContinuousClock`.
///
/// ```swift
/// let stopwatch = Stopwatch()
/// trainOneEpoch()
/// print("epoch took \(stopwatch.elapsedSeconds) s")
/// ```
public struct Stopwatch: Sendable {
    private let start: ContinuousClock.Instant
    private let startCPUSeconds: Double

    /// Starts measuring now.
    public init() {
        start = ContinuousClock.now
        startCPUSeconds = Stopwatch.processCPUSeconds()
    }

    /// CPU seconds all threads of this process spent since the stopwatch was created: unlike wall
    /// time, it hardly moves when other programs compete for the cores.
    public var elapsedCPUSeconds: Double { Stopwatch.processCPUSeconds() - startCPUSeconds }

    private static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    /// The time since the stopwatch was created.
    public var elapsed: Duration { ContinuousClock.now - start }

    /// The time since the stopwatch was created, in seconds.
    public var elapsedSeconds: Double { Stopwatch.seconds(elapsed) }

    /// Runs `body` and returns its result with the wall-clock seconds it took. Reads only the monotonic clock (a few
    /// nanoseconds), not the process's CPU time (a system call of about half a microsecond), so per-layer timings of
    /// `bench --layers` are not inflated by the measurement.
    public static func measure<Result, Failure: Error>(
        _ body: () throws(Failure) -> Result
    ) throws(Failure) -> (result: Result, seconds: Double) {
        let start = ContinuousClock.now
        let result = try body()
        return (result, seconds(ContinuousClock.now - start))
    }

    /// `duration` in seconds, with sub-second precision.
    public static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
