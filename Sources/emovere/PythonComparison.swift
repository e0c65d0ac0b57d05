import EmovereCore
import Foundation

/// Runs a comparison script of `bench` (ONNX Runtime, OpenCV, Keras) with `python3 -c`, its output following
/// Emovere's.
enum PythonComparison {
    /// Runs `script` with `arguments` (and `input` on its standard input) and prints its output; returns the lines it
    /// printed (none when python3 cannot start, which is said as the `comparison` skipped).
    @discardableResult
    static func run(_ script: String, arguments: [String], comparison: String, input: [UInt8]? = nil) -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let output = Pipe()
        process.standardOutput = output
        let feed = input.map { _ in Pipe() }
        process.standardInput = feed ?? FileHandle.nullDevice
        fflush(nil)  // flush every output stream: Emovere's lines first, then python's
        do {
            try process.run()
        } catch {
            print("\(comparison) comparison skipped: cannot start python3 (\(error))")
            return []
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
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        print(text, terminator: "")
        return text.split(separator: "\n").map(String.init)
    }

    /// The rate of a result line (`... 1234 images/s ...`), nil for other lines.
    static func imagesPerSecond(in line: String) -> Double? {
        let words = line.split(separator: " ")
        guard let unit = words.firstIndex(of: "images/s"), unit > words.startIndex else { return nil }
        return Double(words[words.index(before: unit)])
    }
}
