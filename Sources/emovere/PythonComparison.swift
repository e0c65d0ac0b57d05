import EmovereCore
import Foundation

/// Runs a comparison script of `bench` (ONNX Runtime, OpenCV, Keras) with `python3 -c`, its output after the lines
/// Emovere printed before it.
enum PythonComparison {
    /// What one run of a comparison gave.
    enum Outcome {
        /// Its images/s.
        case measured(Double)
        /// It cannot run here (no python3, a package missing, a model it cannot load): it said why.
        case skipped
        /// It ran past its time limit and was stopped (a hung import or run).
        case timedOut
        /// It failed otherwise (a crash, an exception; its line says so).
        case failed

        /// The rate measured; nil when none was.
        var rate: Double? {
            if case let .measured(rate) = self { rate } else { nil }
        }

        /// The outcome of a comparison that printed `lines`.
        init(lines: [String]) {
            if let rate = lines.lazy.compactMap(PythonComparison.imagesPerSecond(in:)).first {
                self = .measured(rate)
            } else {
                self = lines.contains { $0.contains(PythonComparison.skippedMarker) } ? .skipped
                    : lines.contains { $0.contains(PythonComparison.timedOutMarker) } ? .timedOut : .failed
            }
        }
    }

    /// What the line saying a comparison cannot run here holds (the scripts print it too, after their comparison's
    /// name), and what the line saying one was stopped at its time limit holds.
    static let skippedMarker = " comparison skipped: ", timedOutMarker = " comparison failed: python3 still ran after "

    /// Runs `script` with `arguments` (and `input` on its standard input) and prints its output; returns the lines it
    /// printed. When python3 cannot start, the script fails (its own message is on standard error) or runs past
    /// `timeLimit` seconds (then it is stopped), a line says so as the `comparison` skipped or failed, printed and
    /// returned with the others, and the figures it did not print are missing.
    @discardableResult
    static func run(_ script: String, arguments: [String], comparison: String, input: [UInt8]? = nil,
                    timeLimit: Double) -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Unbuffered: the lines a script printed before a timeout stopped it are kept.
        process.arguments = ["python3", "-u", "-c", script] + arguments
        let output = Pipe()
        process.standardOutput = output
        let feed = input.map { _ in Pipe() }
        process.standardInput = feed ?? FileHandle.nullDevice
        fflush(nil)  // flush every output stream: the lines printed so far first, then python's
        do {
            try process.run()
        } catch {
            let line = "\(comparison)\(skippedMarker)cannot start python3 (\(error))"
            print(line)
            return [line]
        }
        if let feed, let input {
            // Written beside the reading below, so neither side waits on a full pipe; a script that stopped early
            // gives EPIPE, not a fatal signal.
            BrokenPipeSignal.ignore()
            let writer = feed.fileHandleForWriting
            DispatchQueue.global().async {
                try? writer.write(contentsOf: input)  // a script that exits early closes its end: nothing to report
                try? writer.close()
            }
        }
        // A hung import or run (a broken TensorFlow install) must not hang bench: the script is stopped at its limit.
        let timedOut = Locked(false)
        let running = UnsafeSendable(process)
        let watchdog = DispatchWorkItem {
            guard running.value.isRunning else { return }
            timedOut.withValue { $0 = true }
            running.value.terminate()
            // A script that ignores SIGTERM is killed 10 s later.
            DispatchQueue.global().asyncAfter(deadline: .now() + 10) {
                if running.value.isRunning { kill(running.value.processIdentifier, SIGKILL) }
            }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeLimit, execute: watchdog)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        let text = String(decoding: data, as: UTF8.self)
        print(text, terminator: "")
        var lines = text.split(separator: "\n").map(String.init)
        let verdict: String? = if timedOut.withValue({ $0 }) && process.terminationReason == .uncaughtSignal {
            "\(comparison)\(timedOutMarker)\(Int(timeLimit)) s and was stopped"
        } else if process.terminationReason == .exit && process.terminationStatus == 127 {
            "\(comparison)\(skippedMarker)cannot start python3 (not found on PATH)"
        } else if process.terminationStatus != 0 {
            "\(comparison) comparison failed: python3 \(process.terminationReason == .exit ? "exited with status" : "was killed by signal") \(process.terminationStatus) (its message is on standard error); the figures it did not print are missing"
        } else {
            nil
        }
        if let verdict {
            print(verdict)
            lines.append(verdict)
        }
        return lines
    }

    /// The rate of a result line (`... 1234 images/s ...`), nil for other lines.
    static func imagesPerSecond(in line: String) -> Double? {
        let words = line.split(separator: " ")
        guard let unit = words.firstIndex(of: "images/s"), unit > words.startIndex else { return nil }
        return Double(words[words.index(before: unit)])
    }
}
