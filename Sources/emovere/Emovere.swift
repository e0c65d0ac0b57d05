import ArgumentParser
import EmovereTensor
import Foundation

@main
struct EmovereCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emovere",
        abstract: "Facial-expression recognition: train, evaluate and benchmark emotion models.",
        subcommands: [
            Analyze.self, Explain.self, Train.self, Evaluate.self, Bench.self, Info.self, Average.self, Export.self, ImportKeras.self,
            Serve.self, Video.self, Live.self,
        ])

    /// Checks the environment every command depends on, then parses and runs the command.
    static func main() {
        if case let .failure(problem) = Parallel.workerSetting(ProcessInfo.processInfo.environment["EMOVERE_THREADS"]) {
            Self.exit(withError: ValidationError(problem.description))
        }
        main(nil)
    }
}
