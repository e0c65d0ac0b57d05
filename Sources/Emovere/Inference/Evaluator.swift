import EmovereData
import EmovereNN
import EmovereTensor

/// Test-time augmentation for evaluation: average the probabilities of several views of each face.
public enum TestTimeAugmentation: String, Sendable, Codable, CodingKeyRepresentable, CaseIterable {
    /// The face as it is.
    case none
    /// The face and its mirror image.
    case flip
    /// Ten views: the four corner crops and the centre crop (each 90 % of the side, resized back to the
    /// input size) and their mirror images.
    case tenCrop = "ten-crop"
    /// Three views: the face, its mirror image and its centre crop (90 % of the side, resized back). On PublicTest
    /// it comes within 0.2 (the default model) to 0.6 points of ten-crop at 3/10 of the cost, and is better calibrated
    /// (models/README.md).
    case flipCrop = "flip-crop"

    /// The views whose probabilities are averaged.
    public var views: [InputBatch.View] {
        switch self {
        case .none: [.original]
        case .flip: [.original, .mirrored]
        case .tenCrop: InputBatch.View.tenCrop
        case .flipCrop: [.original, .mirrored, .crop(x: 0.5, y: 0.5, mirrored: false)]
        }
    }
}

/// Runs a model over a labelled dataset: probabilities, loss and the confusion matrix.
public struct Evaluator {
    /// A trainable `Model` (validation during training) or an `InferenceModel`.
    public let model: any Classifier
    public let preprocessing: Preprocessing
    public var batchSize: Int
    public var testTimeAugmentation: TestTimeAugmentation
    /// Applied to each image's averaged probabilities (`Calibration`); 1 leaves them as the model gives them.
    public var temperature: Float

    public init(model: any Classifier, preprocessing: Preprocessing, batchSize: Int = 256,
                testTimeAugmentation: TestTimeAugmentation = .none, temperature: Float = 1) {
        self.model = model
        self.preprocessing = preprocessing
        self.batchSize = batchSize
        self.testTimeAugmentation = testTimeAugmentation
        self.temperature = temperature
    }

    /// The outcome of an evaluation.
    public struct Result: Sendable {
        public var matrix: ConfusionMatrix
        /// Mean cross-entropy of the (averaged) probabilities.
        public var loss: Double
        /// `[count, classes]` probabilities, row-major.
        public var probabilities: [Float]
        public var accuracy: Double { matrix.accuracy }
    }

    /// Evaluates every image of `dataset`; `progress` is called with the number of images done.
    public func evaluate(_ dataset: FaceDataset, progress: ((Int) -> Void)? = nil) throws -> Result {
        let classes = model.architecture.classCount
        let views = testTimeAugmentation.views
        let filler = InputBatch(preprocessing: preprocessing)
        var probabilities = [Float](repeating: 0, count: dataset.count * classes)
        var matrix = try ConfusionMatrix(classCount: classes)
        var loss = 0.0
        var start = 0
        while start < dataset.count {
            let end = min(start + batchSize, dataset.count)
            let input = Tensor(shape: [end - start, preprocessing.inputSize, preprocessing.inputSize, 1])
            for view in views {
                filler.fill(input, from: dataset, indices: start..<end, view: view)
                let batch = model.probabilities(input)
                for index in 0..<batch.count {
                    probabilities[start * classes + index] += batch[index] / Float(views.count)
                }
            }
            probabilities.withUnsafeMutableBufferPointer { buffer in
                for image in start..<end {
                    Calibration.scale(buffer.baseAddress! + image * classes, classes: classes, temperature: temperature)
                }
            }
            for image in start..<end {
                let row = probabilities[(image * classes)..<((image + 1) * classes)]
                let predicted = row.indices.max { row[$0] < row[$1] }! - image * classes
                let actual = dataset.labels[image]
                try matrix.record(actual: actual, predicted: predicted)
                loss -= Double(logf(max(row[image * classes + actual], 1e-30)))
            }
            start = end
            progress?(end)
        }
        return Result(matrix: matrix, loss: loss / Double(max(dataset.count, 1)), probabilities: probabilities)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin

#elseif canImport(Musl)

import Musl
#endif
