/// Measures elapsed wall-clock time with the monotonic `ContinuousClock`.
///
/// ```swift
/// let stopwatch = Stopwatch()
/// trainOneEpoch()
/// print("epoch took \(ProgressBar.formatClock(seconds: stopwatch.elapsedSeconds))")
/// ```
public struct Stopwatch: Sendable {
    private let start: ContinuousClock.Instant

    /// Starts measuring now.
    public init() {
        start = ContinuousClock.now
    }

    /// The time since the stopwatch was created.
    public var elapsed: Duration { ContinuousClock.now - start }

    /// The time since the stopwatch was created, in seconds.
    public var elapsedSeconds: Double { Stopwatch.seconds(elapsed) }

    /// Runs `body` and returns its result with the seconds it took.
    public static func measure<Result, Failure: Error>(
        _ body: () throws(Failure) -> Result
    ) throws(Failure) -> (result: Result, seconds: Double) {
        let stopwatch = Stopwatch()
        let result = try body()
        return (result, stopwatch.elapsedSeconds)
    }

    /// `duration` in seconds, with sub-second precision.
    public static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
