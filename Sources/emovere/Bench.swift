import ArgumentParser
import Emovere
import EmovereData
import EmovereNN
import EmovereTensor
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training and inference speed (images/s) on synthetic data; build with -c release.")

    @Option(help: "Architecture to measure.")
    var model = "mini-xception"

    @Option(help: "Input size in pixels.")
    var inputSize = 48

    @Option(help: "Seconds to run each measurement.")
    var seconds = 5.0

    @Option(help: "Training batch size (0 skips the training measurement).")
    var trainingBatch = 32

    @Option(parsing: .upToNextOption, help: "Inference batch sizes.")
    var inferenceBatches: [Int] = [1, 256]

    @Flag(help: "Measure training only (for profiling).")
    var trainingOnly = false

    @Flag(help: "Skip the ONNX Runtime comparison.")
    var noOnnx = false

    @Option(help: "ONNX model for the ONNX Runtime comparison.")
    var onnxModel: String?

    func run() throws {
        Gemm.configureThreads()
        print("BLAS: \(Gemm.libraryDescription); workers: \(Parallel.workerCount)")
        let architecture = Architecture(name: model, inputSize: inputSize)
        let results = try Benchmark(architecture: architecture, seconds: seconds)
            .run(trainingBatch: trainingBatch, inferenceBatches: trainingOnly ? [] : inferenceBatches)
        for line in results { print(line.formatted) }
        if !noOnnx && !trainingOnly {
            let path = onnxModel ?? "../shared/bench/mini_xception_\(inputSize).onnx"
            OnnxRuntimeComparison(modelPath: path, inputSize: inputSize, batches: inferenceBatches, seconds: seconds).run()
        }
    }
}
