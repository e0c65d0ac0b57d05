import Emovere
import EmovereCore
import Testing

@testable import EmovereReport

/// A fake monotonic clock and a recorder of everything written, shared with a `ProgressBar`.
private final class Harness {
    var time: Duration = .zero
    var writes: [String] = []

    func makeBar(total: Int, isTerminal: Bool, label: String = "eval", barWidth: Int = 10) -> ProgressBar {
        ProgressBar(total: total, label: label, unit: "img",
                    output: ProgressOutput(isTerminal: isTerminal) { self.writes.append($0) },
                    barWidth: barWidth, timeSource: { self.time })
    }
}

@Suite struct ProgressBarTests {
    // MARK: Pure formatting

    @Test func rendersAFullLine() {
        let line = ProgressBar.render(label: "epoch 1", completed: 480, total: 1000, unit: "img",
                                      elapsed: .seconds(2), metrics: [("loss", 1.2344), ("acc", 0.5671)], barWidth: 20)
        #expect(line == "epoch 1  [=========>          ]   48%   480/1000 img  240 img/s  elapsed 00:02  eta 00:02  loss 1.234 acc 0.567")
    }

    @Test func rendersStartAndEnd() {
        let start = ProgressBar.render(label: "", completed: 0, total: 50, unit: "frame", elapsed: .zero, barWidth: 5)
        #expect(start == "[>    ]    0%   0/50 frame  - frame/s  elapsed 00:00  eta --:--")
        let end = ProgressBar.render(label: "video", completed: 50, total: 50, unit: "frame", elapsed: .milliseconds(12_500), barWidth: 5)
        #expect(end == "video  [=====]  100%  50/50 frame  4.00 frame/s  elapsed 00:13  eta 00:00")
        let noBar = ProgressBar.render(label: "x", completed: 7, total: 8, unit: "img", elapsed: .seconds(1), barWidth: 0)
        #expect(noBar == "x   87%  7/8 img  7.00 img/s  elapsed 00:01  eta 00:00")
    }

    /// A stream of unknown length (total 0), or one that outran its estimated total, shows no percentage or ETA.
    @Test func rendersAnUnknownTotal() {
        let unknown = ProgressBar.render(label: "video", completed: 1234, total: 0, unit: "frame",
                                         elapsed: .seconds(49), metrics: [("faces", 2)], barWidth: 10)
        #expect(unknown == "video  1234 frame  25.2 frame/s  elapsed 00:49  faces 2.000")
        let outran = ProgressBar.render(label: "", completed: 60, total: 50, unit: "frame", elapsed: .seconds(2))
        #expect(outran == "60 frame  30.0 frame/s  elapsed 00:02")
    }

    @Test func logsPrintAPlainLineEveryTenSecondsWithoutATotal() {
        let harness = Harness()
        let bar = harness.makeBar(total: 0, isTerminal: false, label: "video")
        for completed in 1...250 {
            harness.time = .milliseconds(100 * completed)  // 25 s
            bar.update(completed: completed)
        }
        bar.finish()
        #expect(harness.writes.count == 4, "\(harness.writes)")  // at 0.1 s, 10.1 s and 20.1 s, then the final line
        #expect(harness.writes[0] == "video  1 img  - img/s  elapsed 00:00\n")  // no rate in the first second
        #expect(harness.writes[1] == "video  101 img  10.0 img/s  elapsed 00:10\n")
        #expect(harness.writes[3] == "video  250 img  10.0 img/s  elapsed 00:25\n")
    }

    @Test func etaFollowsTheRate() {
        // 100 of 1000 in 30 s: 3.33 img/s, 900 left -> 270 s = 04:30.
        let line = ProgressBar.render(label: "", completed: 100, total: 1000, unit: "img", elapsed: .seconds(30), barWidth: 0)
        #expect(line == " 10%   100/1000 img  3.33 img/s  elapsed 00:30  eta 04:30")
        // Nothing done yet after some time: the rate is 0 and the ETA unknown.
        let stalled = ProgressBar.render(label: "", completed: 0, total: 10, unit: "img", elapsed: .seconds(5), barWidth: 0)
        #expect(stalled == "  0%   0/10 img  0.00 img/s  elapsed 00:05  eta --:--")
    }

    @Test func barWidthAndFill() {
        #expect(ProgressBar.bar(fraction: 0, width: 10) == ">         ")
        #expect(ProgressBar.bar(fraction: 0.25, width: 10) == "==>       ")
        #expect(ProgressBar.bar(fraction: 0.999, width: 10) == "=========>")
        #expect(ProgressBar.bar(fraction: 1, width: 10) == "==========")
        #expect(ProgressBar.bar(fraction: 7, width: 4) == "====")
        #expect(ProgressBar.bar(fraction: -1, width: 3) == ">  ")
        #expect(ProgressBar.bar(fraction: .nan, width: 3) == ">  ")
        #expect(ProgressBar.bar(fraction: 0.5, width: 0) == "")
        for width in [1, 7, 30, 64] {
            for fraction in stride(from: 0.0, through: 1.0, by: 0.05) {
                #expect(ProgressBar.bar(fraction: fraction, width: width).count == width)
            }
        }
    }

    @Test func clockFormatting() {
        #expect(ProgressBar.formatClock(seconds: 0) == "00:00")
        #expect(ProgressBar.formatClock(seconds: 59.4) == "00:59")
        #expect(ProgressBar.formatClock(seconds: 59.6) == "01:00")
        #expect(ProgressBar.formatClock(seconds: 754) == "12:34")
        #expect(ProgressBar.formatClock(seconds: 3599) == "59:59")
        #expect(ProgressBar.formatClock(seconds: 3600) == "1:00:00")
        #expect(ProgressBar.formatClock(seconds: 3725) == "1:02:05")
        #expect(ProgressBar.formatClock(seconds: nil) == "--:--")
        #expect(ProgressBar.formatClock(seconds: -1) == "--:--")
        #expect(ProgressBar.formatClock(seconds: .infinity) == "--:--")
        #expect(ProgressBar.formatClock(seconds: .nan) == "--:--")
        #expect(ProgressBar.formatClock(seconds: 1e300) == ">99h")
    }

    @Test func rateAndMetricFormatting() {
        #expect(ProgressBar.formatRate(nil) == "-")
        #expect(ProgressBar.formatRate(.infinity) == "-")
        #expect(ProgressBar.formatRate(0) == "0.00")
        #expect(ProgressBar.formatRate(5.678) == "5.68")
        #expect(ProgressBar.formatRate(12.34) == "12.3")
        #expect(ProgressBar.formatRate(1234.4) == "1234")

        #expect(ProgressBar.formatMetric(1.2344) == "1.234")
        #expect(ProgressBar.formatMetric(-2.5) == "-2.500")
        #expect(ProgressBar.formatMetric(0) == "0.000")
        #expect(ProgressBar.formatMetric(0.0001) == "1.000e-04")
        #expect(ProgressBar.formatMetric(123_456) == "1.235e+05")
        #expect(ProgressBar.formatMetric(.nan) == "nan")
        #expect(ProgressBar.formatMetric(-.infinity) == "-inf")
    }

    // MARK: Terminal behaviour

    @Test func terminalRedrawsAreThrottled() {
        let harness = Harness()
        let bar = harness.makeBar(total: 100, isTerminal: true)
        harness.time = .milliseconds(1000)
        bar.update(completed: 10)  // first update: drawn
        harness.time = .milliseconds(1050)
        bar.update(completed: 20)  // 50 ms later: skipped
        harness.time = .milliseconds(1099)
        bar.update(completed: 30)  // 99 ms later: skipped
        harness.time = .milliseconds(1100)
        bar.update(completed: 40, metrics: ["loss": 0.5])  // 100 ms later: drawn
        harness.time = .milliseconds(1150)
        bar.update(completed: 50)  // skipped
        harness.time = .milliseconds(2000)
        bar.finish()  // always drawn, with a newline

        #expect(harness.writes.count == 3)
        #expect(harness.writes.allSatisfy { $0.hasPrefix("\r") })
        #expect(harness.writes[0].hasPrefix("\reval  [=>        ]   10%   10/100 img"))
        #expect(harness.writes[1].contains(" 40/100 img") && harness.writes[1].hasSuffix("loss 0.500"))
        #expect(harness.writes[2] == "\reval  [=====>    ]   50%   50/100 img  25.0 img/s  elapsed 00:02  eta 00:02  loss 0.500\n")
        #expect(!harness.writes[0].contains("\n") && !harness.writes[1].contains("\n"))
        #expect(bar.completed == 50 && bar.isFinished)
    }

    @Test func shorterLinesOverwriteLongerOnes() {
        let harness = Harness()
        let bar = harness.makeBar(total: 10, isTerminal: true)
        harness.time = .seconds(1)
        bar.update(completed: 1, metrics: ["loss": 12_345.678])
        harness.time = .seconds(2)
        bar.update(completed: 2, metrics: ["loss": 1])
        #expect(harness.writes.count == 2)
        #expect(harness.writes[1].count == harness.writes[0].count)
        #expect(harness.writes[1].hasSuffix("loss 1.000    "))
    }

    @Test func finishPrintsOnceAndStopsUpdates() {
        let harness = Harness()
        let bar = harness.makeBar(total: 4, isTerminal: true)
        bar.advance()
        bar.advance(by: 2)
        #expect(bar.completed == 3)
        harness.time = .seconds(1)
        bar.finish(metrics: ["acc": 0.75])
        bar.finish()
        bar.update(completed: 4)
        #expect(harness.writes.count == 2)  // the first advance, then finish
        #expect(harness.writes.last?.hasSuffix("acc 0.750\n") == true)
        #expect(bar.completed == 3)
    }

    // MARK: Log (non-terminal) behaviour

    @Test func logsPrintAPlainLineEveryTenPercent() {
        let harness = Harness()
        let bar = harness.makeBar(total: 200, isTerminal: false, label: "train")
        for completed in 1...200 {
            harness.time = .milliseconds(10 * completed)
            bar.update(completed: completed, metrics: [("loss", 2.0 - Double(completed) / 200)])
        }
        bar.finish()
        #expect(harness.writes.count == 10)  // 10 %, 20 %, ... 90 %, then the final line
        #expect(harness.writes.allSatisfy { !$0.contains("\r") && $0.hasSuffix("\n") })
        // Before a second has passed the rate and ETA are not shown (the first units may be far faster than the rest).
        #expect(harness.writes[0] == "train  [=>        ]   10%   20/200 img  - img/s  elapsed 00:00  eta --:--  loss 1.900\n")
        #expect(harness.writes[3] == "train  [====>     ]   40%   80/200 img  - img/s  elapsed 00:01  eta --:--  loss 1.600\n")
        #expect(harness.writes[4] == "train  [=====>    ]   50%  100/200 img  100 img/s  elapsed 00:01  eta 00:01  loss 1.500\n")
        #expect(harness.writes[8].contains(" 90% "))
        #expect(harness.writes[9] == "train  [==========]  100%  200/200 img  100 img/s  elapsed 00:02  eta 00:00  loss 1.000\n")
    }

    @Test func logsSkipStepsThatWereJumpedOver() {
        let harness = Harness()
        let bar = harness.makeBar(total: 100, isTerminal: false)
        bar.update(completed: 5)  // below 10 %: nothing
        bar.update(completed: 35)  // one line for the 30 % step
        bar.update(completed: 38)  // same step: nothing
        bar.update(completed: 100)  // the end is left to finish()
        #expect(harness.writes.count == 1)
        #expect(harness.writes[0].contains(" 35/100 img"))
    }

    // MARK: Stopwatch

    @Test func stopwatchMeasures() {
        #expect(Stopwatch.seconds(.milliseconds(1500)) == 1.5)
        #expect(Stopwatch.seconds(.zero) == 0)
        let (result, seconds) = Stopwatch.measure { (1...1000).reduce(0, +) }
        #expect(result == 500_500)
        #expect(seconds >= 0)
        #expect(Stopwatch().elapsedSeconds >= 0)
    }
}
