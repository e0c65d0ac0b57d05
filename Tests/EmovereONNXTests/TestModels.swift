import Emovere
import EmovereNN
import EmovereTensor
import EmovereTestSupport
import EmovereVision
import Foundation

/// Models and inputs shared by the ONNX tests.
enum TestModels {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The bundled model files: the default (64x64) and the 48x48 mini-Xception.
    static let bundledFiles = ["models/default.safetensors", "models/tiny.safetensors",
                               "models/mini-xception-48.safetensors"]

    /// A bundled model (the default unless `file` names another), as the CLI loads it (`folded`: an
    /// `InferenceModel`) or with its batch norms.
    static func bundled(folded: Bool, file: String = bundledFiles[0]) throws -> (model: any Classifier, card: ModelCard) {
        let (model, card) = try ModelFile.load(packageRoot.appendingPathComponent(file).path)
        return (folded ? try model.inferenceModel() : model, card)
    }

    /// Faces found by OpenCV's Haar cascade in the Vision test fixtures (`opencv_boxes.json`, parameters
    /// `faceClassification`), preprocessed the way `EmotionRecognizer` feeds them: `[3, S, S, 1]`.
    static func faceCrops(preprocessing: Preprocessing) throws -> Tensor {
        let fixtures = packageRoot.appendingPathComponent("Tests/EmovereVisionTests/Fixtures")
        let faces = [("astronaut_gray.png", Rect(x: 176, y: 66, width: 95, height: 95)),
                     ("composite_gray.png", Rect(x: 71, y: 62, width: 87, height: 87)),
                     ("composite_gray.png", Rect(x: 267, y: 56, width: 53, height: 53))]
        let size = preprocessing.inputSize
        let input = Tensor(shape: [faces.count, size, size, 1])
        for (slot, (file, box)) in faces.enumerated() {
            let image = try GrayImage(contentsOf: fixtures.appendingPathComponent(file).path)
            let face = image.cropped(to: box.expanded(byFraction: Double(preprocessing.faceMargin))
                .clamped(toWidth: image.width, height: image.height)).resized(width: size, height: size)
            let destination = input.pointer + slot * size * size
            for index in 0..<size * size { destination[index] = Float(face.pixels[index]) }
            preprocessing.apply(destination, count: size * size)
        }
        return input
    }

    /// `count` random preprocessed-range inputs `[count, H, W, C]` from `seed`.
    static func randomInput(count: Int, shape: [Int], seed: UInt64) -> Tensor {
        Tensor(shape: [count] + shape, values: randomValues(count * shape.reduce(1, *), seed: seed))
    }

    /// Replaces every batch norm's statistics in `parameters` by random non-trivial values (gamma in
    /// [0.5, 1.5], beta and mean in [-0.5, 0.5], variance in [0.5, 2]), so folding and BN export are exercised.
    static func randomizeBatchNorms(_ parameters: [NamedParameter], seed: UInt64) {
        let ranges: [String: ClosedRange<Float>] = [
            "gamma": 0.5...1.5, "beta": -0.5...0.5, "moving_mean": -0.5...0.5, "moving_variance": 0.5...2,
        ]
        for (index, named) in parameters.enumerated() {
            guard let range = ranges[String(named.name.split(separator: ".").last ?? "")] else { continue }
            let value = named.parameter.value
            let values = randomValues(value.count, seed: seed &+ UInt64(index), in: range)
            for element in 0..<value.count { value[element] = values[element] }
        }
    }

    /// Emovere's softmax of `logits` `[N, classes]`.
    static func softmax(_ logits: Tensor) -> [Float] {
        let rows = logits.shape[0]
        let classes = logits.shape[1]
        let result = Tensor(shape: [rows, classes])
        Loss.softmax(logits.pointer, rows: rows, classes: classes, into: result.pointer)
        return result.values
    }

    /// The largest absolute difference between two equally long arrays.
    static func maximumDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "comparing \(a.count) with \(b.count) values")
        return zip(a, b).reduce(0) { max($0, $1.0.isNaN || $1.1.isNaN ? .infinity : abs($1.0 - $1.1)) }
    }
}
