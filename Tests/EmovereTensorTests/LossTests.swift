import EmovereTensor
import EmovereTestSupport
import Testing

/// `Loss.softmax` and `Loss.softmaxCrossEntropy` against `Reference.softmaxCrossEntropy`.
///
/// Tolerances: relative 1e-4, absolute 1e-6 for probabilities and gradients (a handful of float32
/// exponentials and divisions), relative 1e-4 for the loss.
struct LossTests {
    struct LossCase: CustomTestStringConvertible, Sendable {
        var rows: Int
        var classes: Int
        var logitScale: Float
        var weighted: Bool
        var smoothing: Float
        var testDescription: String {
            "\(rows)x\(classes) logits ±\(logitScale)\(weighted ? " weighted" : "") smoothing \(smoothing)"
        }
    }

    static let cases = [
        LossCase(rows: 1, classes: 2, logitScale: 1, weighted: false, smoothing: 0),
        LossCase(rows: 5, classes: 7, logitScale: 3, weighted: false, smoothing: 0),
        LossCase(rows: 5, classes: 7, logitScale: 3, weighted: true, smoothing: 0.1),
        LossCase(rows: 8, classes: 3, logitScale: 1, weighted: true, smoothing: 0),
        // Logits far outside expf's range: the maximum must be subtracted first.
        LossCase(rows: 4, classes: 7, logitScale: 200, weighted: false, smoothing: 0.2),
    ]

    @Test(arguments: cases)
    func matchesReference(testCase: LossCase) {
        let rows = testCase.rows
        let classes = testCase.classes
        let logits = randomTensor([rows, classes], seed: 51, in: -testCase.logitScale...testCase.logitScale)
        let labels = randomValues(rows, seed: 52, in: 0...Float(classes) - 0.001).map { Int($0) }
        let targets = Tensor(shape: [rows, classes])
        for row in 0..<rows {
            for k in 0..<classes {
                targets[row * classes + k] = (k == labels[row] ? 1 - testCase.smoothing : 0)
                    + testCase.smoothing / Float(classes)
            }
        }
        let weights = testCase.weighted ? randomValues(rows, seed: 53, in: 0.5...2) : nil
        let probabilities = garbageTensor([rows, classes])
        let gradient = garbageTensor([rows, classes])
        let loss: Float
        if let weights {
            loss = weights.withUnsafeBufferPointer {
                Loss.softmaxCrossEntropy(logits: logits, targets: targets, sampleWeights: $0.baseAddress,
                                         probabilities: probabilities, logitsGradient: gradient)
            }
        } else {
            loss = Loss.softmaxCrossEntropy(logits: logits, targets: targets, sampleWeights: nil,
                                            probabilities: probabilities, logitsGradient: gradient)
        }
        let expected = Reference.softmaxCrossEntropy(
            logits: logits.values, targets: targets.values, sampleWeights: weights, rows: rows, classes: classes)

        #expect(loss.isFinite)
        #expect(closeness([loss], [expected.loss], absoluteTolerance: 1e-5) <= 1, "loss \(loss) vs \(expected.loss)")
        #expect(closeness(probabilities.values, expected.probabilities, absoluteTolerance: 1e-6) <= 1, "probabilities")
        #expect(closeness(gradient.values, expected.gradient, absoluteTolerance: 1e-6) <= 1, "gradient")
    }

    /// Each softmax row is a probability distribution.
    @Test func softmaxRowsSumToOne() {
        let logits = randomTensor([6, 7], seed: 54, in: -30...30)
        let probabilities = Tensor(shape: [6, 7])
        Loss.softmax(logits.pointer, rows: 6, classes: 7, into: probabilities.pointer)
        for row in 0..<6 {
            let sum = (0..<7).reduce(Float(0)) { $0 + probabilities[row * 7 + $1] }
            #expect(abs(sum - 1) < 1e-5)
        }
    }
}
