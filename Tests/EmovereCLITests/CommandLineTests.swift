import Emovere
import EmovereData
import EmovereFiles
import EmovereNN
import EmovereTensor
import EmovereVision
import Foundation
import Testing

/// Smoke tests of the `emovere` command line, run as a subprocess.
@Suite(.serialized, .enabled(if: CommandRunner.executable != nil, "the emovere executable is not built"))
struct CommandLineTests {
    /// A scratch folder removed at the end of a test.
    struct Scratch {
        let path: String
        init() throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-cli-tests-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Writes an image-folder dataset to `root`: `train/<class>/` and `test/<class>/` for all seven
    /// classes, 48x48 PNGs whose brightness pattern depends on the class.
    static func writeDataset(to root: String, trainingPerClass: Int = 10, testPerClass: Int = 3) throws {
        for (split, perClass) in [("train", trainingPerClass), ("test", testPerClass)] {
            for emotion in Emotion.allCases {
                let folder = root + "/\(split)/\(emotion.name)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for index in 0..<perClass {
                    var pixels = [UInt8](repeating: 0, count: 48 * 48)
                    for y in 0..<48 {
                        for x in 0..<48 {
                            // One bright band per class, plus a little index-dependent texture.
                            let band = (x / 7) == emotion.rawValue
                            pixels[y * 48 + x] = UInt8(band ? 220 : 30) &+ UInt8((x * 3 + y * 5 + index * 11) % 17)
                        }
                    }
                    let png = try GrayImage(width: 48, height: 48, pixels: pixels).pngData()
                    try Data(png).write(to: URL(fileURLWithPath: folder + "/\(index).png"))
                }
            }
        }
    }

    @Test func helpListsTheCommands() throws {
        let result = try CommandRunner.run(["--help"])
        #expect(result.status == 0, "\(result)")
        for command in ["train", "evaluate", "bench", "info", "import-keras"] {
            #expect(result.output.contains(command), "help does not mention \(command):\n\(result)")
        }
    }

    /// `bench --keras` times Arriaga's Keras mini-Xception: other architectures and no training are refused up front.
    @Test func benchKerasNeedsMiniXceptionTraining() throws {
        let wide = try CommandRunner.run(["bench", "--keras", "--model", "wide-xception"])
        #expect(wide.status != 0 && wide.standardError.contains("--keras compares Arriaga's mini-Xception"), "\(wide)")
        let untrained = try CommandRunner.run(["bench", "--keras", "--training-batch", "0"])
        #expect(untrained.status != 0 && untrained.standardError.contains("--training-batch above 0"), "\(untrained)")
    }

    /// `bench --precision bfloat16` measures the bfloat16 network (inference and training steps) where the CPU runs
    /// it, its share against the float32 peak, and says so where it runs float32 instead; the system lines name the
    /// precisions the CPU runs.
    @Test func benchMeasuresTheChosenPrecision() throws {
        let result = try CommandRunner.run(["bench", "--model", "mini-xception", "--input-size", "48", "--seconds", "0.05",
                                            "--training-batch", "4", "--inference-batches", "2", "--no-onnx",
                                            "--precision", "bfloat16"])
        #expect(result.status == 0, "\(result)")
        #expect(result.standardOutput.contains("precisions: float32"), "\(result)")
        if Precision.isBFloat16Supported {
            #expect(result.standardOutput.contains("mini-xception 48x48 inference (bfloat16), batch 2")
                    && result.standardOutput.contains("mini-xception 48x48 training (bfloat16), batch 4")
                    && result.standardOutput.contains("of the float32 peak"), "\(result)")
        } else {
            #expect(result.standardError.contains("bfloat16 needs AVX512_BF16")
                    && result.standardOutput.contains("mini-xception 48x48 inference, batch 2")
                    && result.standardOutput.contains("mini-xception 48x48 training, batch 4"), "\(result)")
        }
    }

    /// `bench --onnx-model` with a model of another input shape says so in one line instead of a Python traceback per
    /// round, and the figures print without the peer.
    @Test func benchSaysWhyOnnxRuntimeCannotMeasureAModel() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let onnx = scratch.path + "/tiny.onnx"
        let exported = try CommandRunner.run(["export", AnalyzeTests.root + "/models/tiny.safetensors", "--onnx", onnx])
        try #require(exported.status == 0, "\(exported)")
        let result = try CommandRunner.run(["bench", "--model", "tiny-cnn", "--input-size", "12", "--seconds", "0.05",
                                            "--training-batch", "0", "--inference-batches", "1", "--onnx-model", onnx])
        #expect(result.status == 0 && result.standardOutput.contains("ONNX Runtime comparison skipped: \(onnx) takes input")
                && result.standardOutput.contains("the benchmark feeds [N, 12, 12, 1]")
                && !result.output.contains("Traceback"), "\(result)")
    }

    /// A comparison that cannot run says so on standard output, where its figures would be, once for the whole run:
    /// without python3 (`env` finds none and exits 127; it was read as a script that printed nothing).
    @Test func benchSaysWhenPythonIsMissing() throws {
        let result = try CommandRunner.run(["bench", "--model", "tiny-cnn", "--input-size", "12", "--seconds", "0.05",
                                            "--training-batch", "0", "--inference-batches", "1", "2", "--rounds", "2"],
                                           environment: ["PATH": "/nonexistent"])
        let skipped = "ONNX Runtime comparison skipped: cannot start python3 (not found on PATH)"
        #expect(result.status == 0 && result.standardOutput.components(separatedBy: skipped).count == 2, "\(result)")
        #expect(result.standardOutput.contains("medians of 2 rounds:") && !result.standardOutput.contains("ratio"),
                "\(result)")
    }

    /// `bench --rounds` measures each figure beside ONNX Runtime's (installed by scripts/test.sh), Emovere first in
    /// odd rounds and ONNX Runtime first in even ones, and ends with the medians: each figure's rate, ONNX Runtime's
    /// and the median ratio with every round's; zero rounds, and rounds of the detector measurement, are refused.
    @Test func benchRoundsPrintMediansAndRatios() throws {
        let result = try CommandRunner.run(["bench", "--model", "tiny-cnn", "--input-size", "12", "--seconds", "0.05",
                                            "--training-batch", "0", "--inference-batches", "1", "2", "--rounds", "2"])
        #expect(result.status == 0, "\(result)")
        let lines = result.standardOutput.split(separator: "\n")
        #expect(lines.contains("round 2 of 2"), "\(result)")
        let memory = "peak resident memory of "
        let rounds = lines.prefix { $0 != "medians of 2 rounds:" }
        let summary = lines.dropFirst(rounds.count + 1).filter { !$0.hasPrefix(memory) }
        // Memory beside the speed: Emovere's process once, ONNX Runtime's after each of its measurements.
        #expect(lines.filter { $0.hasPrefix(memory + "emovere bench") && $0.hasSuffix(" MB") }.count == 1
                && lines.filter { $0.hasPrefix(memory + "the onnxruntime process") }.count == 4, "\(result)")
        for batch in [1, 2] {
            #expect(summary.filter {
                $0.hasPrefix("tiny-cnn 12x12 inference, batch \(batch) ") && $0.contains("median of 2; ONNX Runtime (float32) ")
                    && $0.contains("(rounds: ")
            }.count == 1, "\(result)")
            // Each round prints its ratio, as a single-round run does, with ONNX Runtime's share of the peak.
            #expect(rounds.filter {
                $0.hasPrefix("ratio tiny-cnn 12x12 inference, batch \(batch) / ONNX Runtime (float32): ")
                    && $0.hasSuffix(" % of the peak)")
            }.count == 2, "\(result)")
        }
        #expect(summary.count == 2, "\(result)")
        // Side by side, in alternating order: round 1 Emovere then ONNX Runtime at each batch, round 2 the other way.
        let order = rounds.compactMap { line -> String? in
            if line.hasPrefix("tiny-cnn 12x12 inference") { return "emovere \(line.contains("batch 1 ") ? 1 : 2)" }
            return line.hasPrefix("onnxruntime ") && line.contains(" images/s") ? "onnx \(line.contains("batch 1 ") ? 1 : 2)" : nil
        }
        #expect(order == ["emovere 1", "onnx 1", "emovere 2", "onnx 2", "onnx 1", "emovere 1", "onnx 2", "emovere 2"],
                "\(result)")
        // Sizes and durations that measure nothing are refused before anything runs.
        for (arguments, message) in [(["--input-size", "100000"], "--input-size must be 8-512 pixels, received 100000"),
                                     (["--seconds", "0"], "--seconds must be a positive number of seconds, received 0.0"),
                                     (["--seconds", "nan"], "--seconds must be a positive number of seconds, received nan"),
                                     (["--training-batch", "1"], "--training-batch must be at least 2"),
                                     (["--inference-batches", "0", "4"], "expected 1 or more, received 0")] {
            let refused = try CommandRunner.run(["bench", "--no-onnx"] + arguments)
            #expect(refused.status != 0 && refused.standardError.contains(message), "\(refused)")
        }
        let none = try CommandRunner.run(["bench", "--rounds", "0"])
        #expect(none.status != 0 && none.standardError.contains("--rounds is the number of measuring rounds"), "\(none)")
        let detector = try CommandRunner.run(["bench", "--detector", "--rounds", "3"])
        #expect(detector.status != 0 && detector.standardError.contains("--detector measures once"), "\(detector)")
    }

    /// `bench --detector` times Emovere's detectors and OpenCV's (installed by scripts/test.sh) on the same scenes and
    /// ends with one ratio per pair: YuNet's network at full size against `FaceDetectorYN`, and Haar where OpenCV's
    /// cascade is installed.
    @Test func benchDetectorPrintsRatiosToOpenCV() throws {
        let result = try CommandRunner.run(["bench", "--detector", "--seconds", "0.01"])
        #expect(result.status == 0, "\(result)")
        let lines = result.standardOutput.split(separator: "\n")
        let haar = HaarCascade.locate() != nil
        for size in ["640x480", "1280x720"] {
            for pair in ["yunet \(size)"] + (haar ? ["haar \(size)"] : []) {
                let ratio = lines.first { $0.hasPrefix("ratio emovere / opencv \(pair) (images/s, above 1 is faster): ") }
                #expect(ratio.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 > 0 } == true, "\(pair): \(result)")
            }
        }
    }

    /// `info --system` names the kernels chosen for this CPU (one of the sets it runs) and the BLAS library.
    @Test func infoSystemNamesTheChosenKernels() throws {
        let result = try CommandRunner.run(["info", "--system"])
        #expect(result.status == 0, "\(result)")
        let names = ["portable", "avx2", "avx512"]
        #expect(names.contains { result.standardOutput.contains("kernels: \($0) (") }, "\(result)")
        #expect(result.standardOutput.contains("BLAS: "), "\(result)")
        let both = try CommandRunner.run(["info", "--system", "model.safetensors"])
        #expect(both.status != 0 && both.standardError.contains("--system takes no model file"), "\(both)")
    }

    @Test func trainWithoutDataNamesTheMissingOption() throws {
        let result = try CommandRunner.run(["train", "--out", "/tmp/unused"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("--data"), "\(result)")
    }

    @Test func trainWithMissingDataNamesThePath() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let result = try CommandRunner.run(["train", "--data", "/nonexistent/fer", "--out", scratch.path + "/out",
                                            "--model", "tiny-cnn"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("/nonexistent/fer"), "\(result)")
    }

    /// A recipe's own files (the soup's snapshots, relative to the current folder) are checked before any data is
    /// read, and a lone --plateau-patience for a cosine recipe is refused rather than dropped.
    @Test func trainChecksTheRecipesFilesAndOptionsFirst() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let soup = try CommandRunner.run(["train", "--data", "/nonexistent/fer", "--out", scratch.path + "/out",
                                          "--recipe", "soup"], in: scratch.path)
        #expect(soup.status != 0 && soup.standardError.contains("the recipe soup names models/")
                && soup.standardError.contains("no such file"), "\(soup)")
        let patience = try CommandRunner.run(["train", "--data", "/nonexistent/fer", "--out", scratch.path + "/out",
                                              "--recipe", "tiny", "--plateau-patience", "4"])
        #expect(patience.status != 0 && patience.standardError.contains(
            "plateauPatience is given, but the learning-rate schedule is cosine, which does not use it (give the plateau schedule with it) (--plateau-patience sets it)"),
                "\(patience)")
    }

    @Test func evaluateWithMissingModelNamesThePath() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let result = try CommandRunner.run(["evaluate", "--model", "/nonexistent.safetensors", "--data", scratch.path])
        #expect(result.status != 0)
        #expect(result.standardError.contains("/nonexistent.safetensors"), "\(result)")
    }

    @Test func importKerasRejectsAFileThatIsNotHDF5() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let source = scratch.path + "/model.hdf5"
        try Data("plain text, not HDF5\n".utf8).write(to: URL(fileURLWithPath: source))
        let output = scratch.path + "/out.safetensors"
        let result = try CommandRunner.run(["import-keras", source, "--out", output])
        #expect(result.status != 0)
        #expect(result.standardError.contains("\(source): not an HDF5 file"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func importKerasRefusesANamedPipeWithoutWaitingOnIt() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let pipe = scratch.path + "/model.h5"
        #expect(mkfifo(pipe, 0o600) == 0)
        let result = try CommandRunner.run(["import-keras", pipe, "--out", scratch.path + "/out.safetensors"])
        #expect(result.status != 0 && result.standardError.contains("expected a regular file, found a named pipe"),
                "\(result)")
    }

    /// Every training setting out of its range is refused before any data is read, naming the recipe's setting and
    /// the option that sets it; a recipe file gets the same checks.
    @Test(arguments: [
        (["--schedule", "plateau", "--plateau-patience", "0"], "plateauPatience: expected 1 to 100000, received 0 (--plateau-patience"),
        (["--weight-decay=-5"], "weightDecay: expected 0 or more, received -5.0 (--weight-decay"),
        (["--mixup=-1"], "mixupAlpha: expected 0 (off) or more, received -1.0 (--mixup"),
        (["--learning-rate", "nan"], "learningRate: expected a positive number, received nan (--learning-rate"),
        (["--epochs", "9223372036854775807"], "epochs: expected 1 to 100000"),
        (["--batch-size", "1"], "batchSize: expected 2 to 65536, received 1 (--batch-size"),
        (["--label-smoothing", "1"], "labelSmoothing: expected 0 or more and below 1, received 1.0"),
        (["--validation-fraction", "1.5"], "validationHoldOut: expected above 0 and below 1, received 1.5"),
        (["--epochs", "5", "--average-final-epochs", "6"],
         "--average-final-epochs must be 0 (no average) or 1 to 5 (the run's epochs), received 6"),
        (["--average-final-epochs=-1"], "--average-final-epochs must be 0 (no average) or 1 to 100 (the run's epochs), received -1"),
    ] as [([String], String)])
    func trainRefusesSettingsOutOfRange(options: [String], message: String) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let result = try CommandRunner.run(["train", "--data", scratch.path, "--out", scratch.path + "/run"] + options)
        #expect(result.status == 64 && result.standardError.contains(message), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/run"))
    }

    @Test func trainRefusesARecipeFileOutOfRangeAndAnOutThatIsAFile() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var recipe = try #require(TrainingRecipe.builtIn("tiny"))
        recipe.batchSize = 0
        let file = scratch.path + "/recipe.json"
        try JSONEncoder().encode(recipe).write(to: URL(fileURLWithPath: file))
        let fromFile = try CommandRunner.run(["train", "--data", scratch.path, "--out", scratch.path + "/run",
                                              "--recipe", file])
        #expect(fromFile.status != 0 && fromFile.standardError.contains(file)
                && fromFile.standardError.contains("batchSize: expected 2 to 65536, received 0"), "\(fromFile)")
        let outIsAFile = try CommandRunner.run(["train", "--data", scratch.path, "--out", file])
        #expect(outIsAFile.status == 64 && outIsAFile.standardError.contains("--out \(file) is a file"), "\(outIsAFile)")
    }

    @Test func trainRefusesDataWithoutAValidationSplit() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try Self.writeDataset(to: scratch.path, trainingPerClass: 2, testPerClass: 1)
        let result = try CommandRunner.run(["train", "--data", scratch.path + "/train", "--out", scratch.path + "/run",
                                            "--model", "tiny-cnn", "--epochs", "1"])
        #expect(result.status != 0 && result.standardError.contains("has no PublicTest split of its own")
                && result.standardError.contains("note: \(scratch.path)/train holds class folders directly"),
                "\(result)")
    }

    @Test func invalidThreadSettingsAreRefusedByEveryCommand() throws {
        for value in ["abc", "0", "-1", "100000"] {
            let result = try CommandRunner.run(["info", "--system"], environment: ["EMOVERE_THREADS": value])
            #expect(result.status != 0 && result.standardError.contains("EMOVERE_THREADS is '\(value)'"), "\(result)")
        }
        let two = try CommandRunner.run(["info", "--system"], environment: ["EMOVERE_THREADS": "2"])
        #expect(two.status == 0 && two.standardOutput.contains("workers: 2"), "\(two)")
        // A cap on the instruction set that names none is refused, not ignored (the widest set ran).
        let cap = try CommandRunner.run(["info", "--system"], environment: ["EMOVERE_MAX_ISA": "AVX2"])
        #expect(cap.status != 0 && cap.standardError.contains("EMOVERE_MAX_ISA is 'AVX2', expected one of portable, avx2, avx512"),
                "\(cap)")
        let portable = try CommandRunner.run(["info", "--system"], environment: ["EMOVERE_MAX_ISA": "portable"])
        #expect(portable.status == 0, "\(portable)")
    }

    @Test func unknownModelAndInputSizeAreRejected() throws {
        let model = try CommandRunner.run(["train", "--data", "/tmp", "--out", "/tmp/unused", "--model", "resnet"])
        #expect(model.status != 0)
        #expect(model.standardError.contains("resnet") && model.standardError.contains("tiny-cnn"), "\(model)")
        for value in ["4", "600"] {
            let size = try CommandRunner.run(["train", "--data", "/tmp", "--out", "/tmp/unused", "--input-size", value])
            #expect(size.status != 0 && size.standardError.contains("--input-size must be 8-512 pixels, received \(value)"), "\(size)")
        }
        let teacher = try CommandRunner.run(["train", "--data", "/tmp", "--out", "/tmp/unused", "--teacher", "/no/teacher.safetensors"])
        #expect(teacher.status != 0 && teacher.standardError.contains("--teacher: no file at /no/teacher.safetensors"), "\(teacher)")
        let alone = try CommandRunner.run(["train", "--data", "/tmp", "--out", "/tmp/unused", "--teacher-input", "augmented"])
        #expect(alone.status != 0 && alone.standardError.contains("--teacher-input need --teacher"), "\(alone)")
        let views = try CommandRunner.run(["train", "--data", "/tmp", "--out", "/tmp/unused", "--teacher", #filePath,
                                           "--teacher-input", "augmented", "--teacher-tta", "flip"])
        #expect(views.status != 0 && views.standardError.contains("--teacher-tta applies to --teacher-input clean"), "\(views)")
        let unknown = try CommandRunner.run(["train", "--data", "/tmp", "--out", "/tmp/unused", "--teacher", #filePath,
                                             "--teacher-input", "corrupted"])
        #expect(unknown.status != 0 && unknown.standardError.contains("clean") && unknown.standardError.contains("augmented"), "\(unknown)")
    }

    /// Train, evaluate, inspect, refuse to overwrite, resume: the whole workflow on a tiny dataset.
    /// Weights broken by an epoch's last update (its loss still finite) are caught at validation, not written into
    /// the card and the checkpoint as NaN (the JSON encoder refused them with an error about `validationLoss`).
    @Test func divergenceInTheLastUpdateIsNamed() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try Self.writeDataset(to: scratch.path + "/data")
        let result = try CommandRunner.run([
            "train", "--data", scratch.path + "/data", "--out", scratch.path + "/run", "--model", "tiny-cnn",
            "--input-size", "48", "--augmentation", "none", "--epochs", "1", "--batch-size", "70",
            "--optimizer", "sgd", "--learning-rate", "1e12"])
        #expect(result.status == 1 && result.standardError.contains(
            "the validation loss became NaN or infinite after epoch 1"), "\(result)")
    }

    /// Data without a PublicTest split is refused with the way to validate on part of Training.
    @Test func dataWithoutPublicTestPointsToTheValidationFraction() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try Self.writeDataset(to: scratch.path + "/data")
        try FileManager.default.removeItem(atPath: scratch.path + "/data/test")
        let result = try CommandRunner.run(["train", "--data", scratch.path + "/data", "--out", scratch.path + "/run",
                                            "--model", "tiny-cnn", "--input-size", "48", "--epochs", "1"])
        #expect(result.status == 1 && result.standardError.contains("no folder for the PublicTest split")
                && result.standardError.contains("give --validation-fraction (e.g. 0.1)"), "\(result)")
    }

    /// "Run the same command with --resume" works for a run stopped in its first epoch (its recipe written, no
    /// checkpoint yet; perhaps its best model, written just before the first checkpoint): it starts again; a folder
    /// where no run started is refused.
    @Test func resumeOfARunStoppedInItsFirstEpochStartsIt() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try Self.writeDataset(to: scratch.path + "/data")
        let arguments = ["train", "--data", scratch.path + "/data", "--model", "tiny-cnn", "--input-size", "48",
                         "--augmentation", "none", "--epochs", "1", "--batch-size", "8", "--resume", "--out"]
        let empty = try CommandRunner.run(arguments + [scratch.path + "/empty"])
        #expect(empty.status == 64 && empty.standardError.contains("no run was started in \(scratch.path)/empty"), "\(empty)")
        try FileManager.default.createDirectory(atPath: scratch.path + "/run", withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: scratch.path + "/run/recipe.json"))
        try Data("stopped".utf8).write(to: URL(fileURLWithPath: scratch.path + "/run/best.safetensors"))
        let restarted = try CommandRunner.run(arguments + [scratch.path + "/run"])
        #expect(restarted.status == 0 && restarted.standardError.contains("stopped before its first epoch ended"),
                "\(restarted)")
        #expect(try ModelFile.load(scratch.path + "/run/best.safetensors").card.architecture.inputSize == 48)
        // Finished epochs without their checkpoint are not started over (the best model would be overwritten).
        try FileManager.default.removeItem(atPath: scratch.path + "/run/checkpoint.safetensors")
        let orphaned = try CommandRunner.run(arguments + [scratch.path + "/run"])
        #expect(orphaned.status == 64 && orphaned.standardError.contains("but the run finished epochs"), "\(orphaned)")
    }

    @Test func trainEvaluateInfoAndResume() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = scratch.path + "/data"
        let out = scratch.path + "/run"
        try Self.writeDataset(to: data)
        let trainArguments = ["train", "--data", data, "--out", out, "--model", "tiny-cnn", "--input-size", "48",
                              "--batch-size", "8", "--augmentation", "none"]

        let train = try CommandRunner.run(trainArguments + ["--epochs", "2"])
        try #require(train.status == 0, "\(train)")
        #expect(train.standardOutput.contains("training on 70 images, validating on 21"), "\(train)")
        let model = out + "/best.safetensors"
        #expect(FileManager.default.fileExists(atPath: model))
        #expect(FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
        // The tool, not the library, plots the curves and shows each epoch's progress.
        #expect(FileManager.default.fileExists(atPath: out + "/curves.svg"))
        #expect(train.standardError.contains("epoch 2/2"), "\(train)")

        let evaluate = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--split", "test", "--json"])
        try #require(evaluate.status == 0, "\(evaluate)")
        let report = try ClassificationReport(jsonData: Data(evaluate.standardOutput.utf8))
        #expect((0...1).contains(report.accuracy))
        #expect(report.confusionMatrix.count == 7)
        #expect(report.confusionMatrix.allSatisfy { $0.count == 7 })
        #expect(report.confusionMatrix.joined().reduce(0, +) == 21)
        #expect(report.count == 21)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(evaluate.standardOutput.utf8)) as? [String: Any])
        #expect(json["accuracy"] is Double && json["confusionMatrix"] != nil, "\(json.keys)")

        let info = try CommandRunner.run(["info", model])
        try #require(info.status == 0, "\(info)")
        #expect(info.standardOutput.contains("\"tiny-cnn\""), "\(info)")
        #expect(info.standardOutput.contains("\"labels\""), "\(info)")
        #expect(info.standardOutput.contains("loaded: tiny-cnn 48x48"), "\(info)")
        // Convolutions 165,888 + 663,552 multiply-adds, dense 16 x 7.
        #expect(info.standardOutput.contains("\"multiplyAddsPerFace\" : 829552"), "\(info)")
        #expect(info.standardOutput.contains("829552 multiply-adds per face"), "\(info)")

        let record = try CommandRunner.run([
            "evaluate", "--model", model, "--data", data, "--split", "test", "--tta", "flip", "--record",
            "--adopt-tta", "--note", "erasing did not help",
        ])
        try #require(record.status == 0, "\(record)")
        let card = try String(contentsOfFile: out + "/best.card.json", encoding: .utf8)
        for recorded in ["\"testTimeAugmentation\" : \"flip\"", "publicTestAccuracyFlip", "\"erasing did not help\"",
                         "\"confusionMatrix\""] {
            #expect(card.contains(recorded), "\(recorded) missing from the card:\n\(card)")
        }
        let average = try CommandRunner.run(["average", out + "/checkpoint.safetensors", model, "--out", out + "/average.safetensors"])
        try #require(average.status == 0, "\(average)")
        let averaged = try CommandRunner.run(["info", out + "/average.safetensors"])
        #expect(averaged.standardOutput.contains("the average of 2 snapshots (\(out)/checkpoint.safetensors, \(model))")
                && averaged.standardOutput.contains("the mean of the snapshots' (not re-estimated"), "\(averaged)")
        #expect(average.standardError.contains("--statistics-data re-estimates them"), "\(average)")
        // Faces of a folder with no splits would be test faces too.
        let everySplit = try CommandRunner.run(["average", out + "/checkpoint.safetensors", model, "--statistics-data",
                                                data + "/test", "--out", out + "/refused.safetensors"])
        #expect(everySplit.status == 1 && everySplit.standardError.contains("has no Training split of its own"), "\(everySplit)")
        let recomputed = try CommandRunner.run(["average", out + "/checkpoint.safetensors", model, "--statistics-data", data,
                                                "--out", out + "/recomputed.safetensors"])
        try #require(recomputed.status == 0, "\(recomputed)")
        let recomputedInfo = try CommandRunner.run(["info", out + "/recomputed.safetensors"])
        #expect(recomputedInfo.standardOutput.contains("batch-norm statistics: recomputed on ")
                && recomputedInfo.standardOutput.contains("clean Training faces (whole batches of 32)"), "\(recomputedInfo)")
        let plainState = try ModelFile.load(out + "/average.safetensors").0.stateDictionary()
        let recomputedState = try ModelFile.load(out + "/recomputed.safetensors").0.stateDictionary()
        for (name, entry) in recomputedState {
            // Statistics re-estimated, weights as averaged.
            #expect((entry.values == plainState[name]!.values) == !name.contains("moving"), "\(name)")
        }
        let corruptions = try CommandRunner.run([
            "evaluate", "--model", model, "--data", data, "--split", "test", "--corruptions", "--json", "--record"])
        try #require(corruptions.status == 0, "\(corruptions)")
        let robustness = try JSONDecoder().decode(CorruptionReport.self, from: Data(corruptions.standardOutput.utf8))
        #expect(robustness.entries.count == Corruption.allCases.count * Corruption.severities.count)
        #expect(robustness.count == 21 && (0...1).contains(robustness.cleanAccuracy) && robustness.testTimeAugmentation == .flip)
        // The JSON names what it measured and carries the table's summary figures.
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(corruptions.standardOutput.utf8)) as? [String: Any])
        #expect(fields["model"] as? String == model && fields["split"] as? String == Split.publicTest.usage, "\(fields)")
        #expect(abs((fields["meanAccuracy"] as? Double ?? -1) - robustness.meanAccuracy) < 1e-12
                && abs((fields["middleSeverityMeanAccuracy"] as? Double ?? -1) - robustness.middleSeverityMeanAccuracy) < 1e-12
                && (fields["worstAtMiddleSeverity"] as? [String: Any])?["severity"] as? Int == 3, "\(fields)")
        #expect(try String(contentsOfFile: out + "/best.card.json", encoding: .utf8).contains("\"publicTestMeanCorruptionAccuracyFlip\""))
        // Through a symbolic link the card recorded is the one beside the file it names: named, and never an --output.
        let link = scratch.path + "/link.safetensors"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: model)
        let overCard = try CommandRunner.run(["evaluate", "--model", link, "--data", data, "--split", "test", "--record",
                                              "--output", out + "/best.card.json"])
        #expect(overCard.status == 64 && overCard.standardError.contains("the model, its card or the data"), "\(overCard)")
        let throughLink = try CommandRunner.run(["evaluate", "--model", link, "--data", data, "--split", "test", "--record"])
        #expect(throughLink.status == 0 && throughLink.standardError.contains("recorded the report in \(link) and \(out)/best.card.json"),
                "\(throughLink)")
        // Figures of fewer images (a subset) do not replace the whole split's unless asked to.
        let subset = scratch.path + "/subset"
        try Self.writeDataset(to: subset, trainingPerClass: 1, testPerClass: 1)
        let cardBefore = try String(contentsOfFile: out + "/best.card.json", encoding: .utf8)
        for extra in [[String](), ["--corruptions"]] {
            let refused = try CommandRunner.run(["evaluate", "--model", model, "--data", subset, "--split", "test",
                                                 "--record"] + extra)
            let kind = extra.isEmpty ? "figures" : "a corruption benchmark"
            #expect(refused.status == 1 && refused.standardError.contains("holds \(kind) of 21 images of PublicTest")
                    && refused.standardError.contains("this data has 7; ")
                    && refused.standardError.contains("--replace-figures"), "\(refused)")
        }
        #expect(try String(contentsOfFile: out + "/best.card.json", encoding: .utf8) == cardBefore)
        let replaced = try CommandRunner.run(["evaluate", "--model", model, "--data", subset, "--split", "test", "--record",
                                              "--tta", "none", "--replace-figures"])
        let replacedCard = try ModelFile.load(model).1
        #expect(replaced.status == 0 && replacedCard.recordedImageCount(of: .evaluation, split: "PublicTest") == 7
                && replacedCard.metrics["publicTestAccuracyFlip"] == nil && replacedCard.metrics["publicTestAccuracy"] != nil,
                "\(replaced)\n\(replacedCard.metrics)")
        // The card's flip report, made on the images replaced, goes with them (single view is not the card's views).
        #expect(replacedCard.testTimeAugmentation == .flip && replacedCard.evaluation == nil
                && !replacedCard.notes.contains { $0.hasPrefix("evaluation:") }, "\(replacedCard.notes)")
        let unfit = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--split", "test", "--fit-temperature"])
        #expect(unfit.status != 0 && unfit.standardError.contains("no Training image is held out"), "\(unfit)")
        let heldOutRun = scratch.path + "/held-out"
        let heldOutTraining = try CommandRunner.run([
            "train", "--data", data, "--out", heldOutRun, "--model", "tiny-cnn", "--input-size", "48", "--batch-size", "8",
            "--augmentation", "none", "--epochs", "1", "--validation-fraction", "0.2"])
        try #require(heldOutTraining.status == 0, "\(heldOutTraining)")
        let heldOutModel = heldOutRun + "/best.safetensors"
        let calibrate = try CommandRunner.run([
            "evaluate", "--model", heldOutModel, "--data", data, "--split", "test", "--fit-temperature", "--record",
            "--reliability-diagram", scratch.path + "/reliability.svg"])
        try #require(calibrate.status == 0, "\(calibrate)")
        #expect(calibrate.standardError.contains("fitted on 14 held-out Training images"), "\(calibrate)")
        #expect(calibrate.standardOutput.contains("ECE") && calibrate.standardOutput.contains("temperature:"), "\(calibrate)")
        let heldOutCard = try String(contentsOfFile: heldOutRun + "/best.card.json", encoding: .utf8)
        #expect(heldOutCard.contains("\"temperatures\" :"), "\(heldOutCard)")
        // The recorded temperature calibrates the views it was fitted for (the card's: one), not two.
        let calibrated = try CommandRunner.run(["evaluate", "--model", heldOutModel, "--data", data, "--split", "test"])
        #expect(calibrated.status == 0 && calibrated.standardOutput.contains("temperature:"), "\(calibrated)")
        let flipped = try CommandRunner.run(["evaluate", "--model", heldOutModel, "--data", data, "--split", "test",
                                             "--tta", "flip"])
        #expect(flipped.status == 0 && !flipped.standardOutput.contains("temperature:"), "\(flipped)")
        let diagram = try String(contentsOfFile: scratch.path + "/reliability.svg", encoding: .utf8)
        #expect(diagram.contains("expected calibration error") && diagram.contains("TTA none, temperature "), "the fitted temperature is in the title")
        // Other data holds out other images, some of which the model may have trained on.
        let otherData = scratch.path + "/other-data"
        try Self.writeDataset(to: otherData, trainingPerClass: 11)
        let otherHeldOut = try CommandRunner.run(["evaluate", "--model", heldOutModel, "--data", otherData, "--split", "test",
                                                  "--fit-temperature"])
        #expect(otherHeldOut.status != 0
                && otherHeldOut.standardError.contains("are not those the model's run held out"), "\(otherHeldOut)")
        // A folder of class folders is every split at once: the held-out images would be among those evaluated.
        let oneFolder = try CommandRunner.run(["evaluate", "--model", heldOutModel, "--data", data + "/test",
                                               "--fit-temperature"])
        #expect(oneFolder.status != 0 && oneFolder.standardError.contains("has no Training split of its own"), "\(oneFolder)")
        let partialRecord = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--corruptions",
                                                   "--severities", "3", "--record"])
        #expect(partialRecord.status == 64 && partialRecord.standardError.contains("leave out --severities"), "\(partialRecord)")
        let partialKinds = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--corruptions",
                                                  "--corruption", "rotation", "--record"])
        #expect(partialKinds.status == 64 && partialKinds.standardError.contains("leave out --corruption"), "\(partialKinds)")
        let kindAlone = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--corruption", "blur"])
        #expect(kindAlone.status == 64 && kindAlone.standardError.contains("--corruption needs --corruptions"), "\(kindAlone)")
        // Chosen corruptions run in the benchmark's order and with its seeds, alone or through a detector.
        let chosen = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--split", "test", "--corruptions",
                                            "--corruption", "rotation", "--corruption", "blur", "--severities", "5", "--json"])
        try #require(chosen.status == 0, "\(chosen)")
        let chosenReport = try JSONDecoder().decode(CorruptionReport.self, from: Data(chosen.standardOutput.utf8))
        #expect(chosenReport.entries.map(\.corruption) == [.blur, .rotation] && chosenReport.entries.allSatisfy { $0.severity == 5 })
        #expect(!chosen.standardOutput.contains("middleSeverity") && chosen.standardOutput.contains("\"meanAccuracy\""))
        let rotation = robustness.entries.first { $0.corruption == .rotation && $0.severity == 5 }
        #expect(chosenReport.entries.last?.accuracy == rotation?.accuracy)
        let throughDetector = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--split", "test",
                                                     "--corruptions", "--corruption", "rotation", "--severities", "2", "5",
                                                     "--through-detector", "yunet"])
        try #require(throughDetector.status == 0, "\(throughDetector)")
        let lines = throughDetector.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.count == 4 && lines[0].hasSuffix("through yunet:") && lines[1].hasPrefix("  clean: direct ")
                && lines[2].hasPrefix("  rotation 2: direct ") && lines[3].hasPrefix("  rotation 5: direct ")
                && lines[3].contains(" of 21"), "\(throughDetector)")
        let rotationDirect = String(format: "direct %.2f %%", 100 * (rotation?.accuracy ?? -1))
        #expect(lines[3].contains(rotationDirect), "\(rotationDirect) in \(lines[3])")
        // Figures of data without splits are not stored under a split's name; options that would be dropped are refused.
        let wholeFolderRecord = try CommandRunner.run(["evaluate", "--model", model, "--data", data + "/test", "--record"])
        #expect(wholeFolderRecord.status != 0
                && wholeFolderRecord.standardError.contains("--record: \(data)/test has no PublicTest split of its own"),
                "\(wholeFolderRecord)")
        let diagramWithBenchmark = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--corruptions",
                                                          "--reliability-diagram", scratch.path + "/dropped.svg"])
        #expect(diagramWithBenchmark.status == 64
                && diagramWithBenchmark.standardError.contains("cannot be combined with --corruptions"), "\(diagramWithBenchmark)")
        let everySeverity = try CommandRunner.run(["evaluate", "--model", model, "--data", data,
                                                   "--severities", "1", "2", "3", "4", "5"])
        #expect(everySeverity.status == 64 && everySeverity.standardError.contains("--severities needs --corruptions"),
                "\(everySeverity)")
        let adoptOnTest = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--split", "privatetest",
                                                 "--tta", "flip", "--record", "--adopt-tta"])
        #expect(adoptOnTest.status == 64 && adoptOnTest.standardError.contains("PrivateTest stays the untouched test"),
                "\(adoptOnTest)")
        let badSeverity = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--corruptions", "--severities", "6"])
        #expect(badSeverity.status != 0 && badSeverity.standardError.contains("--severities must be between 1 and 5"), "\(badSeverity)")
        let noteAlone = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--note", "x"])
        #expect(noteAlone.status != 0 && noteAlone.standardError.contains("--note needs --record"), "\(noteAlone)")
        let recordHalves = try CommandRunner.run(["evaluate", "--model", model, "--data", data, "--record",
                                                  "--precision", "bfloat16"])
        #expect(recordHalves.status != 0 && recordHalves.standardError.contains("measured in float32"), "\(recordHalves)")

        let again = try CommandRunner.run(trainArguments + ["--epochs", "3"])
        #expect(again.status != 0)
        #expect(again.standardError.contains("--resume"), "\(again)")

        // A checkpoint the recipe cannot continue is refused before any data is read (here there is none to read).
        let otherRecipe = try CommandRunner.run(trainArguments.map { $0 == data ? data + "/missing" : $0 }
            + ["--epochs", "3", "--resume", "--seed", "99"])
        #expect(otherRecipe.status != 0 && otherRecipe.standardError.contains("checkpoint.safetensors")
            && otherRecipe.standardError.contains("recipe differs in seed ") && !otherRecipe.output.contains("loaded"),
                "\(otherRecipe)")

        let resumed = try CommandRunner.run(trainArguments + ["--epochs", "3", "--resume"])
        try #require(resumed.status == 0, "\(resumed)")
        #expect(resumed.output.contains("resumed from"), "\(resumed)")
        #expect(resumed.standardOutput.contains("done: 3 epochs"), "\(resumed)")
        let log = try String(contentsOfFile: out + "/log.csv", encoding: .utf8)
        #expect(log.split(separator: "\n").count == 4, "log.csv:\n\(log)")
    }

    /// `kill -9` in the middle of a run (power loss, no chance to clean up), then `--resume`: the run
    /// ends with the same weights and the same log as one that was never interrupted.
    @Test func runKilledMidwayResumesToTheSameWeights() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = scratch.path + "/data"
        try Self.writeDataset(to: data)
        let epochs = 10
        func arguments(out: String) -> [String] {
            ["train", "--data", data, "--out", out, "--model", "tiny-cnn", "--input-size", "48", "--batch-size", "8",
             "--augmentation", "standard", "--epochs", String(epochs), "--seed", "5"]
        }
        let reference = scratch.path + "/reference"
        try #require(try CommandRunner.run(arguments(out: reference)).status == 0)

        let killed = scratch.path + "/killed"
        let process = try CommandRunner.start(arguments(out: killed))
        let deadline = Date().addingTimeInterval(600)  // a debug build on a busy machine: no tight limit
        // Kill as soon as the first epoch's log row is written: somewhere in the second epoch or its checkpoint.
        while process.isRunning && Date() < deadline
            && ((try? String(contentsOfFile: killed + "/log.csv", encoding: .utf8))?.split(separator: "\n").count ?? 0) < 2 {
            Thread.sleep(forTimeInterval: 0.005)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try #require(process.terminationReason == .uncaughtSignal, "the run ended before it could be killed")
        let rowsWhenKilled = try String(contentsOfFile: killed + "/log.csv", encoding: .utf8).split(separator: "\n").count
        #expect(rowsWhenKilled < epochs + 1, "killed after \(rowsWhenKilled - 1) epochs")

        let resumed = try CommandRunner.run(arguments(out: killed) + ["--resume"])
        try #require(resumed.status == 0, "\(resumed)")
        #expect(resumed.output.contains("resumed from"), "\(resumed)")
        for file in ["checkpoint.safetensors", "best.safetensors"] {
            let expected = try SafeTensorsFile(contentsOf: reference + "/" + file).tensors
            let actual = try SafeTensorsFile(contentsOf: killed + "/" + file).tensors
            #expect(actual.keys.sorted() == expected.keys.sorted(), "\(file)")
            let differing = expected.keys.sorted().filter { actual[$0] != expected[$0] }
            #expect(differing.isEmpty, "\(file): the resumed run differs in \(differing)")
        }
        // Every column but the timings (seconds, images per second).
        func logWithoutTimings(_ run: String) throws -> [String] {
            try String(contentsOfFile: run + "/log.csv", encoding: .utf8).split(separator: "\n")
                .map { $0.split(separator: ",").prefix(6).joined(separator: ",") }
        }
        #expect(try logWithoutTimings(killed) == logWithoutTimings(reference))
        #expect(try logWithoutTimings(killed).count == epochs + 1)
    }

    /// A run started from a model file resumes when that file is gone (its checkpoint holds every weight and records
    /// the architecture); a longer cosine run is told its schedule stretches; a new run is refused in a folder holding
    /// a finished run's results (its checkpoint removed) and in a folder another run holds.
    @Test func resumingNeedsNoStartingFileAndRunsDoNotShareAFolder() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = scratch.path + "/data"
        try Self.writeDataset(to: data)
        let common = ["train", "--data", data, "--batch-size", "8", "--augmentation", "none", "--schedule", "cosine",
                      "--warmup-epochs", "0"]
        let first = try CommandRunner.run(common + ["--out", scratch.path + "/first", "--model", "tiny-cnn",
                                                    "--input-size", "48", "--epochs", "1"])
        try #require(first.status == 0, "\(first)")
        let start = scratch.path + "/start.safetensors"
        try FileManager.default.copyItem(atPath: scratch.path + "/first/best.safetensors", toPath: start)
        try FileManager.default.copyItem(atPath: scratch.path + "/first/best.card.json", toPath: scratch.path + "/start.card.json")
        let run = scratch.path + "/run"
        let started = try CommandRunner.run(common + ["--out", run, "--initial-weights", start, "--epochs", "1"])
        try #require(started.status == 0, "\(started)")
        try FileManager.default.removeItem(atPath: start)
        let resumed = try CommandRunner.run(common + ["--out", run, "--initial-weights", start, "--epochs", "2", "--resume"])
        #expect(resumed.status == 0 && resumed.output.contains("resumed from") && resumed.standardError.contains(
            "--epochs 2 changes the learning-rate schedule laid out over the run's 1 epochs; it stretches it"), "\(resumed)")
        #expect(try ModelFile.load(run + "/best.safetensors").card.architecture.name == "tiny-cnn")

        try FileManager.default.removeItem(atPath: run + "/checkpoint.safetensors")
        let over = try CommandRunner.run(common + ["--out", run, "--model", "tiny-cnn", "--epochs", "1"])
        #expect(over.status == 64 && over.standardError.contains("\(run) holds the results of an earlier run (\(run)/log.csv)"),
                "\(over)")

        let held = scratch.path + "/held"
        try FileManager.default.createDirectory(atPath: held, withIntermediateDirectories: true)
        let descriptor = open(held, O_RDONLY | O_DIRECTORY)
        try #require(descriptor >= 0 && flock(descriptor, LOCK_EX | LOCK_NB) == 0)
        defer { close(descriptor) }
        let beside = try CommandRunner.run(common + ["--out", held, "--model", "tiny-cnn", "--input-size", "48", "--epochs", "1"])
        #expect(beside.status == 1 && beside.standardError.contains("\(held) is being written by another emovere run"),
                "\(beside)")
        #expect(!FileManager.default.fileExists(atPath: held + "/recipe.json"))
    }

    @Test func resumeWithoutCheckpointFails() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let result = try CommandRunner.run(["train", "--data", scratch.path, "--out", scratch.path + "/empty",
                                            "--model", "tiny-cnn", "--resume"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("no checkpoint"), "\(result)")
    }
}
