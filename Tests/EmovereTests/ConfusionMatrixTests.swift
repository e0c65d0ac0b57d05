import EmovereData
import Foundation
import Testing

@testable import Emovere

/// The hand-computed example used below (rows actual, columns predicted):
///
///            cat dog bird fish   support
///     cat     5   1   0    0       6
///     dog     2   3   1    0       6
///     bird    0   0   0    0       0
///     fish    0   0   0    0       0
///     predicted 7   4   1    0      12
///
/// accuracy = 8/12; cat: P 5/7, R 5/6, F1 10/13; dog: P 3/4, R 3/6, F1 6/10;
/// bird: predicted once, never actual -> P = R = F1 = 0 (present); fish: absent (excluded).
/// macro-F1 = (10/13 + 6/10 + 0) / 3.
private func exampleMatrix() throws -> ConfusionMatrix {
    var matrix = try ConfusionMatrix(classCount: 4)
    let pairs: [(Int, Int, Int)] = [(0, 0, 5), (0, 1, 1), (1, 0, 2), (1, 1, 3), (1, 2, 1)]
    for (actual, predicted, times) in pairs {
        for _ in 0..<times { try matrix.record(actual: actual, predicted: predicted) }
    }
    return matrix
}

private let exampleNames = ["cat", "dog", "bird", "fish"]

private func isClose(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-12 }

@Suite struct ConfusionMatrixTests {
    @Test func countsTotalsAndAccuracy() throws {
        let matrix = try exampleMatrix()
        #expect(matrix.counts == [[5, 1, 0, 0], [2, 3, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
        #expect(matrix.total == 12)
        #expect(matrix.correct == 8)
        #expect(isClose(matrix.accuracy, 8.0 / 12.0))
    }

    @Test func perClassMetricsByHand() throws {
        let metrics = try exampleMatrix().perClass
        #expect(metrics.map(\.truePositives) == [5, 3, 0, 0])
        #expect(metrics.map(\.support) == [6, 6, 0, 0])
        #expect(metrics.map(\.predicted) == [7, 4, 1, 0])
        #expect(metrics.map(\.isPresent) == [true, true, true, false])

        #expect(isClose(metrics[0].precision, 5.0 / 7.0))
        #expect(isClose(metrics[0].recall, 5.0 / 6.0))
        #expect(isClose(metrics[0].f1, 10.0 / 13.0))
        // The F1 formula agrees with the harmonic mean of precision and recall.
        let (p, r) = (metrics[0].precision, metrics[0].recall)
        #expect(isClose(metrics[0].f1, 2 * p * r / (p + r)))

        #expect(isClose(metrics[1].precision, 0.75))
        #expect(isClose(metrics[1].recall, 0.5))
        #expect(isClose(metrics[1].f1, 0.6))

        #expect(metrics[2].precision == 0 && metrics[2].recall == 0 && metrics[2].f1 == 0)
        #expect(metrics[3].precision == 0 && metrics[3].recall == 0 && metrics[3].f1 == 0)
    }

    @Test func macroF1SkipsOnlyAbsentClasses() throws {
        let matrix = try exampleMatrix()
        #expect(isClose(matrix.macroF1, (10.0 / 13.0 + 0.6 + 0) / 3))

        let empty = try ConfusionMatrix(classCount: 3)
        #expect(empty.macroF1 == 0 && empty.accuracy == 0 && empty.total == 0)

        let perfect = try ConfusionMatrix(counts: [[4, 0], [0, 0]])
        #expect(perfect.macroF1 == 1)  // class 1 absent: averaged over class 0 only
        #expect(perfect.accuracy == 1)
    }

    @Test func recordsEmotions() throws {
        var matrix = try ConfusionMatrix(classCount: Emotion.count)
        try matrix.record(actual: .happy, predicted: .happy)
        try matrix.record(actual: .disgust, predicted: .angry)
        #expect(matrix.counts[3][3] == 1)
        #expect(matrix.counts[1][0] == 1)
        #expect(matrix.total == 2)
    }

    @Test func rejectsBadLabelsWithoutChangingCounts() throws {
        var matrix = try ConfusionMatrix(classCount: 3)
        #expect(throws: EvaluationError.labelOutOfRange(role: "actual", label: 3, classCount: 3)) {
            try matrix.record(actual: 3, predicted: 0)
        }
        #expect(throws: EvaluationError.labelOutOfRange(role: "predicted", label: -1, classCount: 3)) {
            try matrix.record(actual: 0, predicted: -1)
        }
        #expect(matrix.total == 0)
        #expect(throws: EvaluationError.labelOutOfRange(role: "actual", label: 6, classCount: 3)) {
            try matrix.record(actual: Emotion.neutral, predicted: .angry)
        }
        #expect(throws: EvaluationError.invalidClassCount(0)) { try ConfusionMatrix(classCount: 0) }
        #expect(EvaluationError.labelOutOfRange(role: "actual", label: 3, classCount: 3).description
            == "confusion matrix: actual label 3 out of range: expected 0..<3")
    }

    @Test func countsMustBeSquareAndNonNegative() {
        #expect(throws: EvaluationError.invalidCounts(reason: "expected a square matrix: row 1 has 1 columns, expected 2")) {
            try ConfusionMatrix(counts: [[1, 2], [3]])
        }
        #expect(throws: EvaluationError.invalidCounts(reason: "expected non-negative counts, found -1 at [0][1]")) {
            try ConfusionMatrix(counts: [[1, -1], [0, 0]])
        }
        #expect(throws: EvaluationError.invalidClassCount(0)) { try ConfusionMatrix(counts: []) }
    }

    @Test func mergeAddsCounts() throws {
        var first = try ConfusionMatrix(counts: [[1, 2], [3, 4]])
        let second = try ConfusionMatrix(counts: [[10, 0], [0, 10]])
        #expect(try first.merging(second).counts == [[11, 2], [3, 14]])
        try first.merge(second)
        #expect(first.counts == [[11, 2], [3, 14]])
        #expect(throws: EvaluationError.classCountMismatch(context: "merging confusion matrices", expected: 2, found: 3)) {
            try first.merge(try ConfusionMatrix(classCount: 3))
        }
        #expect(first.counts == [[11, 2], [3, 14]])
    }

    @Test func matrixCodableRoundTripValidates() throws {
        let matrix = try exampleMatrix()
        let data = try JSONEncoder().encode(matrix)
        #expect(String(decoding: data, as: UTF8.self) == #"{"counts":[[5,1,0,0],[2,3,1,0],[0,0,0,0],[0,0,0,0]]}"#)
        #expect(try JSONDecoder().decode(ConfusionMatrix.self, from: data) == matrix)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ConfusionMatrix.self, from: Data(#"{"counts":[[1,2]]}"#.utf8))
        }
    }
}

extension ConfusionMatrixTests {
/// Nested so that `--filter ConfusionMatrixTests` runs the report tests too.
@Suite struct ClassificationReportTests {
    private func exampleReport() throws -> ClassificationReport {
        try ClassificationReport(matrix: try exampleMatrix(), classNames: exampleNames,
                                 model: "m1", split: "test", testTimeAugmentation: "flip")
    }

    @Test func reportCarriesEveryNumber() throws {
        let report = try exampleReport()
        #expect(isClose(report.accuracy, 8.0 / 12.0))
        #expect(isClose(report.macroF1, (10.0 / 13.0 + 0.6) / 3))
        #expect(report.perClass.map(\.name) == exampleNames)
        #expect(report.perClass.map(\.support) == [6, 6, 0, 0])
        #expect(isClose(report.perClass[0].precision, 5.0 / 7.0))
        #expect(isClose(report.perClass[0].recall, 5.0 / 6.0))
        #expect(isClose(report.perClass[0].f1, 10.0 / 13.0))
        #expect(report.perClass[1] == .init(name: "dog", precision: 0.75, recall: 0.5, f1: 0.6, support: 6))
        #expect(report.perClass[2] == .init(name: "bird", precision: 0, recall: 0, f1: 0, support: 0))
        #expect(report.confusionMatrix == [[5, 1, 0, 0], [2, 3, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
        #expect(report.model == "m1" && report.split == "test" && report.count == nil && report.testTimeAugmentation == "flip")
    }

    @Test func classNamesMustMatch() throws {
        #expect(throws: EvaluationError.classCountMismatch(context: "classification report class names", expected: 4, found: 7)) {
            try ClassificationReport(matrix: try exampleMatrix())
        }
        let emotions = try ClassificationReport(matrix: try ConfusionMatrix(classCount: 7))
        #expect(emotions.perClass.map(\.name) == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
    }

    @Test func tableIsFixedWidth() throws {
        let expected = """
            model: m1  split: test  tta: flip
            class     precision  recall      f1  support
            cat           0.714   0.833   0.769        6
            dog           0.750   0.500   0.600        6
            bird          0.000   0.000   0.000        0
            fish              -       -       -        0
            accuracy                      0.667       12
            macro F1                      0.456       12

            confusion matrix (rows: actual, columns: predicted)
                     cat dog bir fis
            cat        5   1   0   0
            dog        2   3   1   0
            bird       0   0   0   0
            fish       0   0   0   0

            """
        #expect(try exampleReport().table() == expected)
    }

    @Test func tableWithEmotionNamesAndWideCounts() throws {
        var matrix = try ConfusionMatrix(classCount: 7)
        for _ in 0..<12_345 { try matrix.record(actual: .happy, predicted: .happy) }
        let table = try ClassificationReport(matrix: matrix).table()
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "class     precision  recall      f1  support")
        #expect(lines.contains("           ang   dis   fea   hap   sad   sur   neu"))
        #expect(lines.contains("happy        0     0     0 12345     0     0     0"))
        #expect(lines.contains("surprise          -       -       -        0"))
        #expect(lines.contains("macro F1                      1.000    12345"))
    }

    @Test func jsonIsSortedPrettyAndRoundTrips() throws {
        var report = try ClassificationReport(matrix: try ConfusionMatrix(counts: [[1, 1], [0, 2]]), classNames: ["a", "b"])
        report.count = 4
        let json = String(decoding: try report.jsonData(), as: UTF8.self)
        let expected = """
            {
              "accuracy" : 0.75,
              "confusionMatrix" : [
                [
                  1,
                  1
                ],
                [
                  0,
                  2
                ]
              ],
              "count" : 4,
              "macroF1" : 0.7333333333333334,
              "perClass" : [
                {
                  "f1" : 0.6666666666666666,
                  "name" : "a",
                  "precision" : 1,
                  "recall" : 0.5,
                  "support" : 2
                },
                {
                  "f1" : 0.8,
                  "name" : "b",
                  "precision" : 0.6666666666666666,
                  "recall" : 1,
                  "support" : 2
                }
              ]
            }
            """
        #expect(json == expected)
        #expect(try ClassificationReport(jsonData: Data(json.utf8)) == report)
        #expect(throws: EvaluationError.self) { try ClassificationReport(jsonData: Data("{}".utf8)) }
    }

    @Test func writesAndReadsFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ReportTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/report.json"
        let report = try exampleReport()
        try report.write(to: path)
        #expect(try ClassificationReport(contentsOf: path) == report)
        #expect {
            try ClassificationReport(contentsOf: directory + "/missing.json")
        } throws: { error in
            guard case let .fileFailed(failedPath, operation, _) = error as? EvaluationError else { return false }
            return failedPath == directory + "/missing.json" && operation == "read"
        }
    }
}
}
