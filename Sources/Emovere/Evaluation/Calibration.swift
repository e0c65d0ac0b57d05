import EmovereData
import Foundation

/// Whether probabilities mean what they say: expected calibration error, reliability bins and temperature scaling.
///
/// Probabilities are rows of `classes` values (`[count, classes]`, row-major). Temperature `T` rescales a row
/// `p` to `p_k^(1/T) / Σ_j p_j^(1/T)`; for a single view this is `softmax(logits / T)`, for test-time
/// augmentation it acts on the averaged probabilities, as everywhere Emovere shows them.
public enum Calibration {
    /// The default number of equal-width confidence bins (as in Guo et al. 2017).
    public static let defaultBins = 15

    /// One confidence bin of a reliability diagram.
    public struct Bin: Sendable, Codable, Equatable {
        /// The bin covers confidences in `(lower, upper]`.
        public var lower: Double
        public var upper: Double
        /// Samples whose top probability falls in the bin.
        public var count: Int
        /// Their mean top probability (0 when empty).
        public var confidence: Double
        /// The fraction of them classified correctly (0 when empty).
        public var accuracy: Double
    }

    /// The reliability bins of `probabilities` against `labels`.
    public static func bins(probabilities: [Float], labels: [Int], classes: Int, count: Int = defaultBins) -> [Bin] {
        var total = [Int](repeating: 0, count: count)
        var confidence = [Double](repeating: 0, count: count)
        var correct = [Int](repeating: 0, count: count)
        for (row, label) in labels.enumerated() {
            let values = probabilities[(row * classes)..<((row + 1) * classes)]
            let best = values.indices.max { values[$0] < values[$1] }!  // classes > 0
            let top = values[best].isNaN ? 0 : min(max(Double(values[best]), 0), 1)  // NaN (a broken model) counts as 0
            let bin = min(max(Int((top * Double(count)).rounded(.up)) - 1, 0), count - 1)
            total[bin] += 1
            confidence[bin] += top
            if best - row * classes == label { correct[bin] += 1 }
        }
        return (0..<count).map { bin in
            Bin(lower: Double(bin) / Double(count), upper: Double(bin + 1) / Double(count), count: total[bin],
                confidence: total[bin] > 0 ? confidence[bin] / Double(total[bin]) : 0,
                accuracy: total[bin] > 0 ? Double(correct[bin]) / Double(total[bin]) : 0)
        }
    }

    /// Expected calibration error: the sample-weighted mean of `|accuracy - confidence|` over the bins.
    public static func expectedError(_ bins: [Bin]) -> Double {
        let samples = bins.reduce(0) { $0 + $1.count }
        guard samples > 0 else { return 0 }
        return bins.reduce(0) { $0 + Double($1.count) * abs($1.accuracy - $1.confidence) } / Double(samples)
    }

    /// `probabilities` rescaled by `temperature` (1 leaves them unchanged).
    public static func scaled(_ probabilities: [Float], classes: Int, temperature: Float) -> [Float] {
        guard temperature != 1 else { return probabilities }
        var result = probabilities
        result.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<(buffer.count / classes) {
                scale(buffer.baseAddress! + row * classes, classes: classes, temperature: temperature)
            }
        }
        return result
    }

    /// Rescales the `classes` probabilities at `row` in place by `temperature`.
    public static func scale(_ row: UnsafeMutablePointer<Float>, classes: Int, temperature: Float) {
        guard temperature != 1 else { return }
        let inverse = 1 / Double(temperature)
        var largest = -Double.infinity
        var logs = [Double](repeating: 0, count: classes)
        for k in 0..<classes {
            logs[k] = log(max(Double(row[k]), 1e-30)) * inverse
            largest = max(largest, logs[k])
        }
        var sum = 0.0
        for k in 0..<classes { logs[k] = exp(logs[k] - largest); sum += logs[k] }
        for k in 0..<classes { row[k] = Float(logs[k] / sum) }
    }

    /// Mean negative log-likelihood of `labels` under `probabilities` rescaled by `temperature`.
    public static func negativeLogLikelihood(probabilities: [Float], labels: [Int], classes: Int,
                                             temperature: Float) -> Double {
        let inverse = 1 / Double(temperature)
        var total = 0.0
        for (row, label) in labels.enumerated() {
            let logs = (0..<classes).map { log(max(Double(probabilities[row * classes + $0]), 1e-30)) * inverse }
            let largest = logs.max()!  // classes > 0
            let normaliser = largest + log(logs.reduce(0) { $0 + exp($1 - largest) })
            total += normaliser - logs[label]
        }
        return labels.isEmpty ? 0 : total / Double(labels.count)
    }

    /// The range `fitTemperature` searches.
    public static let temperatureRange: (low: Float, high: Float) = (0.1, 10)

    /// The temperature in `temperatureRange` that minimises the negative log-likelihood of `labels` (golden-section
    /// search on the logarithm of the temperature; the likelihood is unimodal in it).
    public static func fitTemperature(probabilities: [Float], labels: [Int], classes: Int) -> Float {
        func loss(_ logTemperature: Double) -> Double {
            negativeLogLikelihood(probabilities: probabilities, labels: labels, classes: classes,
                                  temperature: Float(exp(logTemperature)))
        }
        let ratio = (5.0.squareRoot() - 1) / 2
        var low = log(Double(temperatureRange.low)), high = log(Double(temperatureRange.high))
        var left = high - ratio * (high - low), right = low + ratio * (high - low)
        var leftLoss = loss(left), rightLoss = loss(right)
        while high - low > 1e-4 {
            if leftLoss < rightLoss {
                high = right
                right = left
                rightLoss = leftLoss
                left = high - ratio * (high - low)
                leftLoss = loss(left)
            } else {
                low = left
                left = right
                leftLoss = rightLoss
                right = low + ratio * (high - low)
                rightLoss = loss(right)
            }
        }
        return Float(exp((low + high) / 2))
    }
}

/// A temperature fitted on held-out images, with the expected calibration error before and after it.
public struct TemperatureFit: Sendable {
    public var temperature: Float
    public var errorBefore: Double
    public var errorAfter: Double
    public var imageCount: Int

    /// The search bound (0.1 or 10) the fit ended at, nil when it lies inside: the likelihood fell all the way to
    /// it, so the temperature is no minimum (held-out images all right, or too few to tell).
    public var boundReached: Float? {
        let (low, high) = Calibration.temperatureRange
        if temperature < low * 1.001 { return low }
        if temperature > high / 1.001 { return high }
        return nil
    }
}

extension Evaluator {
    /// The temperature that minimises the negative log-likelihood of this evaluator's probabilities (taken at
    /// temperature 1) on `heldOut`, images the model never trained on.
    public func fittedTemperature(on heldOut: FaceDataset) throws -> TemperatureFit {
        var unscaled = self
        unscaled.temperature = 1
        let probabilities = try unscaled.evaluate(heldOut).probabilities
        let classes = model.architecture.classCount
        let temperature = Calibration.fitTemperature(probabilities: probabilities, labels: heldOut.labels, classes: classes)
        func error(_ probabilities: [Float]) -> Double {
            Calibration.expectedError(Calibration.bins(probabilities: probabilities, labels: heldOut.labels, classes: classes))
        }
        return TemperatureFit(
            temperature: temperature, errorBefore: error(probabilities),
            errorAfter: error(Calibration.scaled(probabilities, classes: classes, temperature: temperature)),
            imageCount: heldOut.count)
    }
}
