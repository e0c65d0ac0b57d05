import Emovere
import EmovereCore
import EmovereReport
import EmovereTensor
import Foundation
import Testing

struct CalibrationTests {
    /// Rows of `softmax(logits)` and labels drawn from `softmax(logits / trueTemperature)`: a model that is
    /// overconfident by the factor `trueTemperature`.
    static func sample(count: Int, classes: Int, trueTemperature: Float, seed: UInt64) -> (probabilities: [Float], labels: [Int]) {
        var random = SplitMix64(seed: seed)
        var probabilities: [Float] = []
        var labels: [Int] = []
        for _ in 0..<count {
            let logits = (0..<classes).map { _ in 3 * random.nextGaussian() }
            func softmax(_ temperature: Float) -> [Float] {
                let largest = logits.max()!
                let exps = logits.map { expf(($0 - largest) / temperature) }
                let sum = exps.reduce(0, +)
                return exps.map { $0 / sum }
            }
            probabilities += softmax(1)
            let truth = softmax(trueTemperature)
            var draw = random.nextUnit(), label = classes - 1
            for k in 0..<classes {
                draw -= truth[k]
                if draw < 0 { label = k; break }
            }
            labels.append(label)
        }
        return (probabilities, labels)
    }

    @Test func fittedTemperatureRecoversTheOverconfidenceAndLowersTheError() {
        let classes = 7
        let (probabilities, labels) = Self.sample(count: 6000, classes: classes, trueTemperature: 2, seed: 3)
        let temperature = Calibration.fitTemperature(probabilities: probabilities, labels: labels, classes: classes)
        #expect(abs(temperature - 2) < 0.2, "fitted \(temperature)")
        let before = Calibration.expectedError(Calibration.bins(probabilities: probabilities, labels: labels, classes: classes))
        let scaled = Calibration.scaled(probabilities, classes: classes, temperature: temperature)
        let after = Calibration.expectedError(Calibration.bins(probabilities: scaled, labels: labels, classes: classes))
        #expect(before > 0.1 && after < 0.03, "ECE \(before) -> \(after)")
        // Calibrated data: the fitted temperature stays near 1.
        let (calibrated, truth) = Self.sample(count: 6000, classes: classes, trueTemperature: 1, seed: 4)
        #expect(abs(Calibration.fitTemperature(probabilities: calibrated, labels: truth, classes: classes) - 1) < 0.1)
    }

    @Test func scalingKeepsRowsNormalisedAndTheirOrder() {
        let row: [Float] = [0.5, 0.2, 0.3, 0, 0, 0, 0]
        #expect(Calibration.scaled(row, classes: 7, temperature: 1) == row)
        for temperature: Float in [0.5, 2, 5] {
            let scaled = Calibration.scaled(row, classes: 7, temperature: temperature)
            #expect(abs(scaled.reduce(0, +) - 1) < 1e-5)
            #expect(scaled[0] > scaled[2] && scaled[2] > scaled[1])
            #expect(temperature > 1 ? scaled[0] < 0.5 : scaled[0] > 0.5)
        }
    }

    @Test func binsCountTopProbabilitiesAndCorrectness() {
        // Confidences 1.0 (right), 0.95 (wrong), 0.5 (right): bins 15, 15 and 8 of 15.
        let probabilities: [Float] = [1, 0, 0.95, 0.05, 0.5, 0.5]
        let bins = Calibration.bins(probabilities: probabilities, labels: [0, 1, 0], classes: 2)
        #expect(bins.count == 15)
        #expect(bins[14].count == 2 && abs(bins[14].accuracy - 0.5) < 1e-9 && abs(bins[14].confidence - 0.975) < 1e-6)
        #expect(bins[7].count == 1 && bins[7].accuracy == 1)
        // (2 * |0.5 - 0.975| + 1 * |1 - 0.5|) / 3
        #expect(abs(Calibration.expectedError(bins) - (0.95 + 0.5) / 3) < 1e-6)
        let svg = ReliabilityDiagram.svg(bins, title: "a <test> & more")
        #expect(svg.hasPrefix("<svg") && svg.contains("a &lt;test&gt; &amp; more") && svg.contains("48.33 %"))
    }
}
