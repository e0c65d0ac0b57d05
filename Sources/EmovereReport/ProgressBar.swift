import Emovere
import EmovereCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a `ProgressBar` writes, and whether that is an interactive terminal.
public struct ProgressOutput {
    /// Whether the destination is a terminal: if so the bar redraws one line with `\r`,
    /// otherwise it prints a plain line at each progress step so that logs stay readable.
    public let isTerminal: Bool
    private let sink: (String) -> Void

    /// An output that passes text to `write`.
    public init(isTerminal: Bool, write: @escaping (String) -> Void) {
        self.isTerminal = isTerminal
        self.sink = write
    }

    /// Writes `text` as is.
    public func write(_ text: String) {
        sink(text)
    }

    /// Standard error, treated as a terminal when `isatty` says so.
    ///
    /// A failed write (for example a closed pipe) is dropped on purpose: progress display is
    /// cosmetic and must never abort the job it reports on.
    public static var standardError: ProgressOutput {
        ProgressOutput(isTerminal: isatty(STDERR_FILENO) == 1) { text in
            do {
                try FileHandle.standardError.write(contentsOf: Data(text.utf8))
            } catch {
                // Deliberately ignored: see the property's documentation.
            }
        }
    }

    /// Standard output, treated as a terminal when `isatty` says so. Failed writes are dropped
    /// as for `standardError`.
    public static var standardOutput: ProgressOutput {
        ProgressOutput(isTerminal: isatty(STDOUT_FILENO) == 1) { text in
            do {
                try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
            } catch {
                // Deliberately ignored: see `standardError`.
            }
        }
    }
}

/// A one-line progress display for long jobs (training epochs, evaluation, video frames).
///
/// ```swift
/// let progress = ProgressBar(total: images.count, label: "epoch 3")
/// for (index, batch) in batches.enumerated() {
///     let loss = train(batch)
///     progress.update(completed: (index + 1) * batchSize, metrics: ["loss": loss, "acc": accuracy])
/// }
/// progress.finish()
/// ```
///
/// On a terminal the line is redrawn in place (`\r`) at most once per `redrawInterval`
/// (100 ms by default, measured with a monotonic clock). Elsewhere, such as a log file, a plain
/// line is printed each time progress crosses another `plainStepPercent` (10 % by default).
/// `finish()` always prints the final line followed by a newline. A job of unknown length (`total` 0, or a count
/// that has passed an estimated `total`) shows its count, rate and elapsed time without a bar, percentage or ETA,
/// and prints a plain line every `plainIntervalWithoutTotal` to a log.
///
/// A `ProgressBar` is not thread-safe: update it from one thread at a time.
public final class ProgressBar: ProgressSink {
    /// The number of units the job will complete; 0 or less: unknown.
    public let total: Int
    /// How often a log gets a plain line while the total is unknown.
    public static let plainIntervalWithoutTotal: Duration = .seconds(10)
    /// The text shown before the bar, e.g. `epoch 3` or `eval`.
    public let label: String
    /// The unit of work, e.g. `img` or `frame`.
    public let unit: String
    /// The width of the bar in characters.
    public let barWidth: Int
    /// The units completed so far, as last passed to `update`.
    public private(set) var completed = 0
    /// Whether `finish()` has been called; later updates are ignored.
    public private(set) var isFinished = false

    private let output: ProgressOutput
    private let redrawInterval: Duration
    private let plainStepPercent: Int
    private let now: () -> Duration
    private let start: Duration
    private var metrics: [(String, Double)] = []
    private var lastRedraw: Duration?
    private var lastLineLength = 0
    private var lastPlainStep = 0
    private var lastPlainLine: Duration?

    /// Creates a progress bar; nothing is printed until the first `update` or `finish`.
    ///
    /// - Parameters:
    ///   - total: The number of units the job will complete; 0 when unknown (a stream of unknown length).
    ///   - label: The text shown before the bar.
    ///   - unit: The unit of work, shown after counts and in the rate.
    ///   - output: Where to write; standard error by default.
    ///   - barWidth: The bar's width in characters (0 hides the bar).
    ///   - redrawInterval: The minimum time between terminal redraws.
    ///   - plainStepPercent: On a non-terminal output, print a line every this many percent.
    ///   - timeSource: The monotonic time now, from any fixed origin; `ContinuousClock` by default.
    ///     Tests pass a fake clock.
    public init(
        total: Int,
        label: String,
        unit: String = "img",
        output: ProgressOutput = .standardError,
        barWidth: Int = 30,
        redrawInterval: Duration = .milliseconds(100),
        plainStepPercent: Int = 10,
        timeSource: (() -> Duration)? = nil
    ) {
        self.total = total
        self.label = label
        self.unit = unit
        self.output = output
        self.barWidth = max(0, barWidth)
        self.redrawInterval = redrawInterval
        self.plainStepPercent = min(100, max(1, plainStepPercent))
        if let timeSource {
            self.now = timeSource
        } else {
            let origin = ContinuousClock.now
            self.now = { ContinuousClock.now - origin }
        }
        self.start = self.now()
    }

    /// Bars for `Trainer.progress` and the like: one per piece of work, on standard error, counting `unit`.
    public static func factory(unit: String = "img") -> ProgressSinkFactory {
        { total, label in ProgressBar(total: total, label: label, unit: unit) }
    }

    /// Records progress and redraws if it is time to.
    ///
    /// - Parameters:
    ///   - completed: The units completed so far (negative values count as 0).
    ///   - metrics: Values to show after the timing, e.g. `["loss": 1.234, "acc": 0.567]`;
    ///     when empty, the previously shown metrics stay.
    public func update(completed: Int, metrics: KeyValuePairs<String, Double> = [:]) {
        update(completed: completed, metrics: metrics.map { ($0.key, $0.value) })
    }

    /// Records progress and redraws if it is time to; `metrics` as an array of name-value pairs.
    public func update(completed: Int, metrics: [(String, Double)]) {
        guard !isFinished else { return }
        self.completed = max(0, completed)
        if !metrics.isEmpty { self.metrics = metrics }
        let time = now()

        if output.isTerminal {
            if let lastRedraw, time - lastRedraw < redrawInterval { return }
            lastRedraw = time
            output.write("\r" + paddedLine(elapsed: time - start))
        } else if !Self.isKnown(total: total, completed: self.completed) {
            if let lastPlainLine, time - lastPlainLine < Self.plainIntervalWithoutTotal { return }
            lastPlainLine = time
            output.write(line(elapsed: time - start) + "\n")
        } else {
            guard self.completed < total else { return }
            let step = (self.completed * 100 / total) / plainStepPercent
            guard step > lastPlainStep else { return }
            lastPlainStep = step
            output.write(line(elapsed: time - start) + "\n")
        }
    }

    /// Adds `count` to the completed units; see `update(completed:metrics:)`.
    public func advance(by count: Int = 1, metrics: KeyValuePairs<String, Double> = [:]) {
        update(completed: completed + count, metrics: metrics.map { ($0.key, $0.value) })
    }

    /// Prints the final line and a newline; later calls and updates do nothing.
    ///
    /// - Parameter metrics: Final values to show; when empty, the last metrics stay.
    public func finish(metrics: KeyValuePairs<String, Double> = [:]) {
        finish(metrics: metrics.map { ($0.key, $0.value) })
    }

    /// Prints the final line and a newline; `metrics` as an array of name-value pairs.
    public func finish(metrics: [(String, Double)]) {
        guard !isFinished else { return }
        isFinished = true
        if !metrics.isEmpty { self.metrics = metrics }
        let elapsed = now() - start
        if output.isTerminal {
            output.write("\r" + paddedLine(elapsed: elapsed) + "\n")
        } else {
            output.write(line(elapsed: elapsed) + "\n")
        }
    }

    /// How long a running job goes before its rate and ETA are shown: the first units can be far faster than the
    /// rest (photos that fail to decode, skipped work).
    public static let rateWarmUp: Duration = .seconds(1)

    private func line(elapsed: Duration) -> String {
        ProgressBar.render(label: label, completed: completed, total: total, unit: unit,
                           elapsed: elapsed, metrics: metrics, barWidth: barWidth,
                           showsRate: isFinished || elapsed >= Self.rateWarmUp)
    }

    /// The line, padded with spaces to cover a longer previous line on the terminal.
    private func paddedLine(elapsed: Duration) -> String {
        let text = line(elapsed: elapsed)
        let padding = max(0, lastLineLength - text.count)
        lastLineLength = text.count
        return text + String(repeating: " ", count: padding)
    }

    // MARK: Formatting

    /// The progress line, e.g.
    /// `epoch 1 [=========>          ]  48%  480/1000 img  240 img/s  elapsed 00:02  eta 00:02  loss 1.234 acc 0.567`.
    ///
    /// - The bar has `barWidth` characters: `=` for each full `1/barWidth` of progress, then `>`
    ///   while unfinished, then spaces; it is omitted when `barWidth` is 0.
    /// - The percentage is rounded down; `completed` is padded to the width of `total`.
    /// - The rate is `completed / elapsed` (see `formatRate`), `-` before any time has passed or unless `showsRate`.
    /// - The ETA is `(total - completed) / rate` (see `formatClock`), `--:--` while unknown and
    ///   `00:00` once `completed >= total`.
    /// - Metrics follow as `name value` pairs (see `formatMetric`).
    /// - With an unknown total (0 or less, or fewer than `completed`: an estimate that fell short), the line has the
    ///   count, rate, elapsed time and metrics only: `video  1234 frame  25.0 frame/s  elapsed 00:49`.
    public static func render(
        label: String,
        completed: Int,
        total: Int,
        unit: String,
        elapsed: Duration,
        metrics: [(String, Double)] = [],
        barWidth: Int = 30,
        showsRate: Bool = true
    ) -> String {
        let done = max(0, completed)
        let seconds = Stopwatch.seconds(elapsed)
        let rate: Double? = showsRate && seconds > 0 ? Double(done) / seconds : nil
        let metricsText = metrics.map { "\($0.0) \(formatMetric($0.1))" }.joined(separator: " ")
        guard isKnown(total: total, completed: done) else {
            return ([label, "\(done) \(unit)", "\(formatRate(rate)) \(unit)/s", "elapsed \(formatClock(seconds: seconds))",
                     metricsText]).filter { !$0.isEmpty }.joined(separator: "  ")
        }
        let fraction = min(1, Double(done) / Double(total))
        let remaining: Double?
        if done >= total {
            remaining = 0
        } else if let rate, rate > 0 {
            remaining = Double(total - done) / rate
        } else {
            remaining = nil
        }

        var parts: [String] = []
        if !label.isEmpty { parts.append(label) }
        if barWidth > 0 { parts.append("[" + bar(fraction: fraction, width: barWidth) + "]") }
        let percent = Int((fraction * 100).rounded(.down))
        parts.append(String(repeating: " ", count: 3 - String(percent).count) + "\(percent)%")
        let totalText = String(total)
        let doneText = String(done)
        parts.append(String(repeating: " ", count: max(0, totalText.count - doneText.count)) + "\(doneText)/\(totalText) \(unit)")
        parts.append("\(formatRate(rate)) \(unit)/s")
        parts.append("elapsed \(formatClock(seconds: seconds))")
        parts.append("eta \(formatClock(seconds: remaining))")
        if !metricsText.isEmpty { parts.append(metricsText) }
        return parts.joined(separator: "  ")
    }

    /// Whether `total` is a count the job can still be measured against.
    static func isKnown(total: Int, completed: Int) -> Bool { total > 0 && completed <= total }

    /// A bar of `width` characters for `fraction` (clamped to 0...1) of the work done.
    public static func bar(fraction: Double, width: Int) -> String {
        guard width > 0 else { return "" }
        let clamped = fraction.isFinite ? min(1, max(0, fraction)) : 0
        let filled = min(width, Int((clamped * Double(width)).rounded(.down)))
        guard filled < width else { return String(repeating: "=", count: width) }
        return String(repeating: "=", count: filled) + ">" + String(repeating: " ", count: width - filled - 1)
    }

    /// A duration as `mm:ss`, or `h:mm:ss` from one hour on, rounded to the nearest second;
    /// `--:--` when unknown, negative or not finite, `>99h` from 100 hours on.
    public static func formatClock(seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "--:--" }
        guard seconds < 100 * 3600 else { return ">99h" }
        let whole = Int(seconds.rounded())
        let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60)
        let mmss = twoDigits(minutes) + ":" + twoDigits(secs)
        return hours > 0 ? "\(hours):\(mmss)" : mmss
    }

    /// A rate in units per second: no decimals from 100 on, one from 10 on, two below;
    /// `-` when unknown or not finite.
    public static func formatRate(_ rate: Double?) -> String {
        guard let rate, rate.isFinite, rate >= 0 else { return "-" }
        if rate >= 100 { return String(format: "%.0f", rate) }
        if rate >= 10 { return String(format: "%.1f", rate) }
        return String(format: "%.2f", rate)
    }

    /// A metric value with three decimals (`1.234`), in scientific notation when its magnitude is
    /// below 0.001 or at least 100000 (`1.000e-04`); `nan`, `inf` and `-inf` as such.
    public static func formatMetric(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        let magnitude = abs(value)
        if magnitude == 0 || (magnitude >= 0.001 && magnitude < 100_000) { return String(format: "%.3f", value) }
        return String(format: "%.3e", value)
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : String(value)
    }
}
