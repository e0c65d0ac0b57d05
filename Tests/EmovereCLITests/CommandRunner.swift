import Foundation
import Testing

/// Runs the `emovere` executable that `swift build`/`swift test` built beside the test bundle.
enum CommandRunner {
    /// The built `emovere` executable: next to this test bundle (the build products folder), or the
    /// path in the `EMOVERE_BINARY` environment variable; nil when neither exists.
    static let executable: URL? = {
        var candidates: [URL] = []
        if let path = ProcessInfo.processInfo.environment["EMOVERE_BINARY"] {
            candidates.append(URL(fileURLWithPath: path))
        }
        for bundlePath in [Bundle.main.executablePath, CommandLine.arguments.first].compactMap({ $0 }) {
            var folder = URL(fileURLWithPath: bundlePath).deletingLastPathComponent()
            // On macOS the tests run inside `emoverePackageTests.xctest/Contents/MacOS`.
            for _ in 0..<4 {
                candidates.append(folder.appendingPathComponent("emovere"))
                folder = folder.deletingLastPathComponent()
            }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// What a finished command printed, and how it exited.
    struct Result: CustomStringConvertible {
        var status: Int32
        var standardOutput: String
        var standardError: String
        /// Both streams, for messages that may go to either.
        var output: String { standardOutput + standardError }
        var description: String { "status \(status)\nstdout:\n\(standardOutput)\nstderr:\n\(standardError)" }
    }

    /// Runs `emovere arguments...` (or `executable arguments...`) to completion (in `directory`, by default the
    /// test's). Output goes through files, so a chatty command can never block on a full pipe. A command still
    /// running after `limitSeconds` (far beyond any test's need, even on a busy machine) is killed and recorded as
    /// a hang, so a regression fails the suite instead of stalling it. Standard input is the file `input` when given.
    static func run(_ arguments: [String], environment: [String: String] = [:],
                    in directory: String? = nil, executable program: String? = nil,
                    input: String? = nil, limitSeconds: Int = 1800) throws -> Result {
        let binary = try program.map { URL(fileURLWithPath: $0) }
            ?? #require(executable, "the emovere executable is not built; run `swift build` first")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputURL = scratch.appendingPathComponent("stdout")
        let errorURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let outputHandle = try FileHandle(forWritingTo: outputURL)
        let errorHandle = try FileHandle(forWritingTo: errorURL)
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = outputHandle
        process.standardError = errorHandle
        // Never the test runner's own standard input: a command reading it would wait for the limit.
        let inputHandle = try input.map { try FileHandle(forReadingFrom: URL(fileURLWithPath: $0)) }
        defer { try? inputHandle?.close() }
        process.standardInput = inputHandle ?? FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        if exited.wait(timeout: .now() + .seconds(limitSeconds)) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
            Issue.record("emovere \(arguments.joined(separator: " ")) still ran after \(limitSeconds) s and was killed")
        }
        process.waitUntilExit()
        try outputHandle.close()
        try errorHandle.close()
        return Result(status: process.terminationStatus,
                      standardOutput: try String(contentsOf: outputURL, encoding: .utf8),
                      standardError: try String(contentsOf: errorURL, encoding: .utf8))
    }

    /// Starts `emovere serve` with `arguments` on a port the system picks (`--port 0`) and returns the process and
    /// that port, read from its `listening on` line (within 300 s: debug builds start slowly on a busy machine).
    static func startServer(_ arguments: [String]) throws -> (process: Process, port: Int) {
        let binary = try #require(executable, "the emovere executable is not built; run `swift build` first")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-serve-\(UUID().uuidString).log")
        try Data().write(to: log)
        defer { try? FileManager.default.removeItem(at: log) }  // the open handle keeps the file while it runs
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve"] + arguments + ["--port", "0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        for _ in 0..<3000 {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening on http://") }),
               let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
                return (process, port)
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        if process.isRunning { process.terminate() }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw Failure(description: "emovere serve printed no port within 300 s: \(text.suffix(2000))")
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Starts `emovere arguments...` without waiting, its output discarded (standard error written to `errorLog`
    /// when given): for tests that stop it midway.
    static func start(_ arguments: [String], errorLog: String? = nil) throws -> Process {
        let binary = try #require(executable, "the emovere executable is not built; run `swift build` first")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        if let errorLog {
            try #require(FileManager.default.createFile(atPath: errorLog, contents: nil), "cannot create \(errorLog)")
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorLog))
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return process
    }
}
