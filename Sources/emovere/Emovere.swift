import ArgumentParser
import EmovereCore
import EmovereTensor
import Foundation

@main
struct EmovereCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emovere",
        abstract: "Facial-expression recognition: analyse photos, videos and cameras, explain, serve, train, evaluate, average, export, import, describe and benchmark emotion models.",
        subcommands: [
            Analyze.self, Explain.self, Train.self, Evaluate.self, Bench.self, Info.self, Average.self, Export.self, ImportKeras.self,
            Serve.self, Video.self, Live.self,
        ])

    /// Checks the environment every command depends on, then parses and runs the command (`serve` asynchronously,
    /// the others synchronously). Messages go out with their control characters escaped (a file name cannot drive the
    /// terminal); a refusal made before parsing prints no usage, which would be the top level's, not the command's.
    static func main() async {
        if case let .failure(problem) = Parallel.workerSetting(ProcessInfo.processInfo.environment["EMOVERE_THREADS"]) {
            refuse(problem.description)
        }
        if let cap = ProcessInfo.processInfo.environment["EMOVERE_MAX_ISA"], InstructionSet(name: cap) == nil {
            refuse("EMOVERE_MAX_ISA is '\(cap.escapedForOneLine)', expected one of \(InstructionSet.allCases.map(\.description).joined(separator: ", ")) (or leave it unset for the widest this CPU runs)")
        }
        // Every command's BLAS single-threaded, as `bench` measures it: the worker threads parallelise (OpenBLAS's
        // own threads inside them ran cores x workers threads in analyze and serve).
        Gemm.configureThreads()
        if let (position, shown) = argumentNotInUTF8() {
            refuse("argument \(position) ('\(shown)', \u{FFFD} for the bytes) is not valid UTF-8, as a file name in another "
                + "encoding can be; emovere cannot open such names: rename the file (e.g. convmv -f latin1 -t utf8)")
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let (path, option) = dashedPath(in: arguments) {
            // An option's value cannot follow `--` (everything after it is an argument).
            let advice = option.map { "write it as ./\(path) (\($0) ./\(path))" } ?? "put -- before it (emovere "
                + "\(arguments.first.flatMap { $0.hasPrefix("-") ? nil : $0 } ?? "analyze") -- \(path)) or write it as ./\(path)"
            refuse("'\(path)' is a file whose name starts with a dash, which would be read as options: \(advice)")
        }
        do {
            var command = try await asyncParseAsRoot(arguments)
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            finish(error)
        }
    }

    /// Exits 64 (a usage error) with `message` on standard error.
    static func refuse(_ message: String) -> Never {
        StandardError.write("Error: \(message)\n")
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }

    /// Exits as the argument parser does for `error` (help and the version on standard output, status 0; an error
    /// with its usage on standard error), the text's control characters escaped.
    static func finish(_ error: any Error) -> Never {
        let text = fullMessage(for: error)
        let code = exitCode(for: error)
        if code == .success {
            if !text.isEmpty { print(text.escapingControlCharacters()) }
        } else if !text.isEmpty {
            StandardError.write(text + "\n")
        }
        Foundation.exit(code.rawValue)
    }

    /// The position (1 = the first after the program) and repaired text of the first argument whose bytes are not
    /// valid UTF-8. Swift's `CommandLine.arguments` replaces such bytes, so the path would name another file.
    static func argumentNotInUTF8() -> (position: Int, shown: String)? {
        for position in 1..<Int(CommandLine.argc) {
            guard let argument = CommandLine.unsafeArgv[position] else { continue }
            if String(validatingCString: argument) == nil { return (position, String(cString: argument)) }
        }
        return nil
    }

    /// The first argument before any `--` that starts with a single dash and names an existing file, e.g. a
    /// `-photo.jpg` from a `*.jpg` glob, which the parser would otherwise take for a cluster of short flags; and the
    /// `--name` before it, whose value it may be (nil when none).
    static func dashedPath(in arguments: [String]) -> (path: String, option: String?)? {
        let options = arguments.prefix(while: { $0 != "--" })
        for (index, argument) in zip(options.indices, options)
        where argument.hasPrefix("-") && !argument.hasPrefix("--") && argument.count > 2 {
            guard FileManager.default.fileExists(atPath: argument) else { continue }
            // After `--name` (no `=value`), the path is that option's value.
            let previous = index > options.startIndex ? options[index - 1] : nil
            return (argument, previous.flatMap { $0.hasPrefix("--") && !$0.contains("=") ? $0 : nil })
        }
        return nil
    }
}
