import ArgumentParser
import Emovere
import EmovereCore
import EmovereReport
import Foundation

struct Average: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Average the weights of snapshots of one network (model files or checkpoints) into a model file.",
        discussion: """
            Stochastic weight averaging: e.g. the checkpoints of a run's last epochs, or a "soup" of models \
            fine-tuned from one another; networks trained apart (kernels' cosine similarity to the first snapshot's \
            below 0.5) are refused. The averaged batch-norm statistics belong to none of the snapshots: give \
            --statistics-data to re-estimate them on the clean Training faces. Evaluate the result \
            (emovere evaluate --record) to fill its card's metrics.
            """)

    @Argument(help: "Model files or training checkpoints (.safetensors) of one architecture.")
    var snapshots: [String]

    @Option(help: "The averaged model file to write.")
    var out: String

    @Option(help: ArgumentHelp(
        "FER2013 data (fer2013.csv or image folders) whose Training faces re-estimate the batch-norm statistics.",
        valueName: "data"))
    var statisticsData: String?

    func validate() throws {
        if snapshots.count < (statisticsData == nil ? 2 : 1) {
            throw ValidationError("expected at least two snapshots to average (or one with --statistics-data), received \(snapshots.count)")
        }
        if let statisticsData, !FileManager.default.fileExists(atPath: statisticsData) {
            throw ValidationError("--statistics-data \(statisticsData): no such file or folder; expected fer2013.csv or FER2013's image folders")
        }
        var seen: Set<String> = []
        for snapshot in snapshots where !seen.insert(OutputPaths.canonical(snapshot)).inserted {
            throw ValidationError("\(snapshot) is given twice: each snapshot counts once in the mean")
        }
        try OutputPaths.checkModelFile(out, option: "--out")
        try OutputPaths.checkDistinct([("--out", out)], inputs: snapshots, inputName: "one of the snapshots")
    }

    func run() throws {
        var (model, card) = try WeightAveraging.average(snapshots)
        if let statisticsData {
            let (training, report) = try CommandSupport.loadWithReport(path: statisticsData, split: .training, strict: false,
                                                                       imageSize: card.preprocessing.inputSize)
            guard !report.readsEverySplit else {
                throw CommandFailure("--statistics-data \(statisticsData) has no Training split of its own (\(report.source) is read whole for every split): the statistics would be estimated on test faces too; give data with train/ and test/ folders or a Usage column")
            }
            let used: Int
            do {
                used = try BatchNormStatistics.recompute(model, preprocessing: card.preprocessing, on: training,
                                                         progress: ProgressBar.factory())
            } catch {
                throw CommandFailure("--statistics-data \(statisticsData): \(error)")
            }
            card.notes.append("batch-norm statistics: recomputed on \(used) of the \(training.count) clean Training faces (whole batches of 32)")
        } else {
            card.notes.append("batch-norm statistics: the mean of the snapshots' (not re-estimated: no --statistics-data)")
            StandardError.write("note: the batch-norm statistics are the mean of the snapshots', which belongs to none of them; --statistics-data re-estimates them on Training faces\n")
        }
        try ModelFile.save(model, card: card, to: out)
        print("averaged \(snapshots.count.counting("snapshot")) of \(model.architecture) into \(out.escapedForOneLine)")
    }
}
