import Emovere
import EmovereCore
import EmovereReport
import Foundation

/// The status line of `live`: frames/s over the last second, latency, dropped frames and faces, on standard
/// error (redrawn in place on a terminal, one line every 5 seconds otherwise).
final class LiveStatus {
    private let output = ProgressOutput.standardError
    private let start = ContinuousClock.now
    private var lastPrint: ContinuousClock.Instant?
    private var recent: [ContinuousClock.Instant] = []
    private var frames = 0
    private var latencySum = 0.0
    private var latencyMaximum = 0.0
    private var lastLatency = 0.0
    private var faces = 0

    func record(latencyMilliseconds: Double, faces: Int, dropped: Int) {
        let now = ContinuousClock.now
        frames += 1
        latencySum += latencyMilliseconds
        latencyMaximum = max(latencyMaximum, latencyMilliseconds)
        lastLatency = latencyMilliseconds
        self.faces = faces
        recent.append(now)
        recent.removeAll { now - $0 > .seconds(1) }
        let interval: Duration = output.isTerminal ? .milliseconds(500) : .seconds(5)
        if let lastPrint, now - lastPrint < interval { return }
        lastPrint = now
        let rate = recent.count > 1 ? Double(recent.count - 1) / Stopwatch.seconds(now - recent[0]) : 0
        let line = String(format: "live: %@  %@ frames/s  latency %.0f ms  dropped %d  faces %d",
                          frames.counting("frame"), ProgressBar.formatRate(rate), latencyMilliseconds, dropped, faces)
        output.write(output.isTerminal ? "\r" + line + "   " : line + "\n")
    }

    func finish(dropped: Int) {
        let seconds = Stopwatch.seconds(ContinuousClock.now - start)
        let line = String(format: "live: %@ in %.1f s (%@ frames/s), latency mean %.0f ms, max %.0f ms, dropped %d",
                          frames.counting("frame"), seconds, ProgressBar.formatRate(seconds > 0 ? Double(frames) / seconds : 0),
                          frames > 0 ? latencySum / Double(frames) : 0, latencyMaximum, dropped)
        output.write((output.isTerminal ? "\r" : "") + line + "\n")
    }
}
