import Foundation
import Testing
import EmovereData

/// Loads the real FER2013 folders when `EMOVERE_DATA` names them (skipped otherwise), checks
/// the published class counts and prints timings. Run in release for meaningful times:
/// `EMOVERE_DATA=/work/shared/data/fer2013 swift test -c release --filter RealDataTests`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["EMOVERE_DATA"] != nil))
struct RealDataTests {
    let root = ProcessInfo.processInfo.environment["EMOVERE_DATA"] ?? ""

    @Test func loadsFoldersAndAnEquivalentCSV() throws {
        var start = Date()
        let (training, trainingReport) = try FER2013.load(path: root, split: .training)
        print("folder Training: \(trainingReport.summary) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        start = Date()
        let (test, testReport) = try FER2013.load(path: root, split: .publicTest)
        print("folder PublicTest: \(testReport.summary) in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        #expect(training.count == 28_709)
        #expect(test.count == 3_589)
        // angry disgust fear happy sad surprise neutral
        #expect(training.classCounts == [3995, 436, 4097, 7215, 4830, 3171, 4965])
        #expect(test.classCounts == [467, 56, 496, 895, 653, 415, 607])

        // Write both splits as a fer2013.csv and time the CSV loader on it.
        let csvPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("emovere-real-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: csvPath) }
        var text = "emotion,pixels,Usage\n"
        for (dataset, usage) in [(training, "Training"), (test, "PublicTest")] {
            for index in 0..<dataset.count {
                let start = dataset.pixelOffset(of: index)
                let values = dataset.pixels[start..<start + dataset.pixelsPerImage].map(String.init).joined(separator: " ")
                text += "\(dataset.labels[index]),\(values),\(usage)\n"
            }
        }
        try text.write(toFile: csvPath, atomically: false, encoding: .utf8)
        start = Date()
        let (csvTraining, csvReport) = try FER2013.load(path: csvPath, split: .training)
        let megabytes = Double(text.utf8.count) / 1e6
        print("CSV Training (\(String(format: "%.0f", megabytes)) MB file): \(csvReport.summary) in "
              + "\(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        #expect(csvTraining == training)
    }
}
