import ArgumentParser
import Emovere
import Foundation

struct Average: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Average the weights of snapshots of one network (model files or checkpoints) into a model file.",
        discussion: """
            Stochastic weight averaging: e.g. the checkpoints of a run's last epochs. Evaluate the result \
            (emovere evaluate --record) to fill its card's metrics.
            """)

    @Argument(help: "Model files or training checkpoints (.safetensors) of one architecture.")
    var snapshots: [String]

    @Option(help: "The averaged model file to write.")
    var out: String

    func validate() throws {
        if snapshots.count < 2 { throw ValidationError("expected at least two snapshots to average, received \(snapshots.count)") }
    }

    func run() throws {
        let (model, card) = try WeightAveraging.average(snapshots)
        try ModelFile.save(model, card: card, to: out)
        print("averaged \(snapshots.count) snapshots of \(model.architecture) into \(out)")
    }
}
