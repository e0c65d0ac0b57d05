import Emovere
import EmovereData
import EmovereNN
import Foundation
import Testing

/// What `evaluate --record` and `--fit-temperature` store, done by the library.
struct ModelCardRecordingTests {
    static func report() throws -> ClassificationReport {
        var counts = Array(repeating: Array(repeating: 0, count: 7), count: 7)
        for k in 0..<7 { counts[k][k] = 3 }
        counts[0][1] = 1
        return try ClassificationReport(matrix: ConfusionMatrix(counts: counts), model: "m.safetensors", split: "PublicTest",
                                        count: 22, testTimeAugmentation: "flip")
    }

    @Test func recordingAnEvaluationSetsMetricsAndReplacesItsNote() throws {
        var card = ModelCard(architecture: Architecture(.tinyCNN, inputSize: 12), preprocessing: .symmetric(inputSize: 12),
                             parameterCount: 1)
        card.notes = ["evaluation: an older report", "kept"]
        card.testTimeAugmentation = .flip
        let report = try Self.report()
        card.record(evaluation: report, split: "PublicTest", testTimeAugmentation: .flip, imageCount: 22, notes: ["kept", "new", "new"])
        #expect(card.metrics["publicTestAccuracyFlip"] == report.accuracy)
        #expect(card.metrics["publicTestMacroF1Flip"] == report.macroF1)
        #expect(card.evaluation?.model == nil && card.evaluation?.accuracy == report.accuracy)
        #expect(card.notes == ["kept", "evaluation: the report is PublicTest, test-time augmentation flip, 22 images", "new"])
        // Another view set's figures: its metrics, not the report of the card's views (whose calibration it quotes).
        var single = report
        single.accuracy = 0.25
        card.record(evaluation: single, split: "PublicTest", testTimeAugmentation: .none, imageCount: 22, notes: ["other"])
        #expect(card.metrics["publicTestAccuracy"] == 0.25 && card.evaluation?.accuracy == report.accuracy)
        #expect(card.notes == ["kept", "evaluation: the report is PublicTest, test-time augmentation flip, 22 images", "new", "other"])
    }

    /// The card's corruption table is single view: another view set's benchmark stores only its mean.
    @Test func onlyASingleViewCorruptionTableIsStored() throws {
        var card = ModelCard(architecture: Architecture(.tinyCNN, inputSize: 12), preprocessing: .symmetric(inputSize: 12),
                             parameterCount: 1)
        func report(_ accuracy: Double, _ views: TestTimeAugmentation) throws -> CorruptionReport {
            try JSONDecoder().decode(CorruptionReport.self, from: Data("""
                {"cleanAccuracy": 0.7, "cleanCalibrationError": 0.02, "testTimeAugmentation": "\(views.rawValue)",
                 "temperature": 1, "count": 22,
                 "entries": [{"corruption": "blur", "severity": 3, "accuracy": \(accuracy), "expectedCalibrationError": 0.05}]}
                """.utf8))
        }
        let table = try report(0.5, .none)
        card.record(robustness: table, split: "PublicTest", testTimeAugmentation: .none, imageCount: 22)
        let flipped = try report(0.6, .flip)
        card.record(robustness: flipped, split: "PublicTest", testTimeAugmentation: .flip, imageCount: 22)
        #expect(card.robustness == table)
        #expect(card.metrics["publicTestMeanCorruptionAccuracy"] == table.meanAccuracy)
        #expect(card.metrics["publicTestMeanCorruptionAccuracyFlip"] == flipped.meanAccuracy)
        #expect(card.notes.filter { $0.hasPrefix("robustness:") } == ["robustness: the corruption benchmark on PublicTest, test-time augmentation none, 22 images"])
    }

    /// Counts in an edited card that are no whole number of images (they trapped `evaluate --record`) count as none.
    @Test func countsThatAreNoNumberOfImagesCountAsNone() throws {
        var card = ModelCard(architecture: Architecture(.tinyCNN, inputSize: 12), preprocessing: .symmetric(inputSize: 12),
                             parameterCount: 1)
        card.testTimeAugmentation = .flip
        card.record(evaluation: try Self.report(), split: "PublicTest", testTimeAugmentation: .flip, imageCount: 22)
        #expect(card.recordedImageCount(of: .evaluation, split: "PublicTest") == 22)
        for damaged in [1e20, -3, 2.5, .nan, .infinity] {
            card.metrics["publicTestImageCount"] = damaged
            #expect(card.recordedImageCount(of: .evaluation, split: "PublicTest") == nil, "\(damaged)")
        }
        card.metrics["publicTestImageCount"] = nil
        #expect(card.recordedImageCount(of: .evaluation, split: "PublicTest") == 22)  // the confusion matrix's sum
        card.evaluation?.confusionMatrix = [[Int.max, 1]]
        #expect(card.recordedImageCount(of: .evaluation, split: "PublicTest") == nil)
        card.evaluation?.confusionMatrix = [[5, -1]]
        #expect(card.recordedImageCount(of: .evaluation, split: "PublicTest") == nil)
    }

    @Test func editingACardKeepsTheTensors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("card-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.safetensors"
        let architecture = Architecture(.tinyCNN, inputSize: 12)
        let model = try Model(architecture: architecture, seed: 3)
        try ModelFile.save(model, card: ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: 12),
                                                  parameterCount: model.parameterCount), to: path)
        try ModelFile.editCard(at: path) { $0.temperatures = [.tenCrop: 1.5] }
        let (reloaded, card) = try ModelFile.load(path)
        #expect(card.temperature(for: .tenCrop) == 1.5)
        // A temperature fitted for ten views does not calibrate one or two.
        #expect(card.temperature(for: .none) == 1 && card.temperature(for: .flip) == 1)
        #expect(reloaded.stateDictionary().mapValues(\.values) == model.stateDictionary().mapValues(\.values))
        let json = try String(contentsOfFile: ModelFile.cardPath(for: path), encoding: .utf8)
        #expect(json.contains("\"ten-crop\" : 1.5"), "\(json)")
    }

    /// Figures measured on one set of weights are not recorded into the card of others that replaced the file
    /// meanwhile (a training run saving its new best model while `evaluate --record` measured the old one).
    @Test func recordingRefusesWeightsThatChangedSinceTheyWereMeasured() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("card-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.safetensors"
        let architecture = Architecture(.tinyCNN, inputSize: 12)
        let card = ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: 12), parameterCount: 0)
        try ModelFile.save(try Model(architecture: architecture, seed: 3), card: card, to: path)
        let measured = try ModelFile.weightsDigest(atPath: path)
        try ModelFile.editCard(at: path, weights: measured) { $0.notes = ["kept"] }
        #expect(try ModelFile.weightsDigest(atPath: path) == measured)  // a card edit keeps the weights' identity
        try ModelFile.save(try Model(architecture: architecture, seed: 4), card: card, to: path)
        let error = try #require(throws: ModelError.self) {
            try ModelFile.editCard(at: path, weights: measured) { $0.notes = ["wrong"] }
        }
        #expect(error.description.contains("weights changed while it was being measured"), "\(error)")
        #expect(try ModelFile.load(path).card.notes.isEmpty)

        // A new best model saved while the card is being edited (after the weights were checked) is kept, and the
        // edit refused: the file read before is not written back over it.
        let current = try ModelFile.weightsDigest(atPath: path)
        let meanwhile = try #require(throws: (any Error).self) {
            try ModelFile.editCard(at: path, weights: current) { card in
                card.notes = ["stale"]
                try ModelFile.save(try Model(architecture: architecture, seed: 5), card: card, to: path)
            }
        }
        #expect("\(meanwhile)".contains("not recorded: another program wrote it after it was read")
                && "\(meanwhile)".contains("measure it again"), "\(meanwhile)")
        #expect(try ModelFile.weightsDigest(atPath: path) != current)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
                == ["model.card.json", "model.safetensors"])
    }
}
