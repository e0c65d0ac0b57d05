import ArgumentParser

@main
struct EmovereCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emovere",
        abstract: "Facial-expression recognition: train, evaluate and benchmark emotion models.",
        subcommands: [
            Analyze.self, Explain.self, Train.self, Evaluate.self, Bench.self, Info.self, Average.self, Export.self, ImportKeras.self,
            Serve.self, Video.self, Live.self,
        ])
}
