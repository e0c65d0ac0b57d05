import Foundation

/// Runs a comparison script of `bench` (ONNX Runtime, OpenCV) with `python3 -c`, its output following Emovere's.
enum PythonComparison {
    /// Runs `script` with `arguments`; when python3 cannot start, says that the `comparison` was skipped.
    static func run(_ script: String, arguments: [String], comparison: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        fflush(nil)  // flush every output stream: Emovere's lines first, then python's
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            print("\(comparison) comparison skipped: cannot start python3 (\(error))")
        }
    }
}
