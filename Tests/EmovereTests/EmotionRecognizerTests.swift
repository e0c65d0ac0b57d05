import Emovere
import EmovereNN
import EmovereTestSupport
import EmovereVision
import Foundation
import Testing

/// `EmotionRecognizer.classify` averages the views of the test-time augmentation the card names.
struct EmotionRecognizerTests {
    static let cascade = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EmovereVisionTests/Fixtures/haarcascade_frontalface_default.xml").path

    /// A random 16x16 tiny-cnn with the card's augmentation set to `augmentation` and its `temperatures`.
    static func recognizer(_ augmentation: TestTimeAugmentation?,
                           temperatures: [TestTimeAugmentation: Float]? = nil) throws -> EmotionRecognizer {
        let architecture = Architecture(name: "tiny-cnn", inputSize: 16)
        let model = try Model(architecture: architecture, seed: 11)
        var card = ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: 16),
                             parameterCount: model.parameterCount)
        card.testTimeAugmentation = augmentation
        card.temperatures = temperatures
        return EmotionRecognizer(model: model, card: card, detector: try FaceDetector(cascadePath: cascade))
    }

    /// A 60x50 photo of seeded noise with a bright blob, and two face boxes in it.
    static let photo: GrayImage = {
        let noise = randomValues(3000, seed: 5, in: 0...255)
        let pixels = noise.indices.map { index in index % 60 > 30 && index / 60 < 20 ? UInt8(250) : UInt8(noise[index]) }
        return GrayImage(width: 60, height: 50, pixels: pixels)
    }()
    static let boxes = [Rect(x: 4, y: 6, width: 30, height: 30), Rect(x: 25, y: 10, width: 28, height: 32)]

    @Test(arguments: TestTimeAugmentation.allCases)
    func probabilitiesAreTheMeanOverTheViews(augmentation: TestTimeAugmentation) throws {
        let recognizer = try Self.recognizer(augmentation)
        let faces = recognizer.classify(faces: Self.boxes, in: Self.photo)
        #expect(faces.map(\.box) == Self.boxes)
        for (slot, box) in Self.boxes.enumerated() {
            let face = recognizer.faceImage(for: box, in: Self.photo)
            var mean = [Float](repeating: 0, count: 7)
            for view in augmentation.views {
                let single = recognizer.model.probabilities(recognizer.inputBatch([face], views: [view])).values
                for k in 0..<7 { mean[k] += single[k] / Float(augmentation.views.count) }
            }
            #expect(closeness(faces[slot].probabilities, mean, absoluteTolerance: 1e-5) <= 1, "face \(slot)")
        }
        #expect(augmentation.views.count == [TestTimeAugmentation.none: 1, .flip: 2, .tenCrop: 10, .flipCrop: 3][augmentation])
    }

    /// The card's temperature for its own views calibrates the answer; one filed under other views leaves it alone.
    @Test func theTemperatureOfTheCardsViewsCalibrates() throws {
        let plain = try Self.recognizer(.flip).classify(faces: Self.boxes, in: Self.photo)
        let calibrated = try Self.recognizer(.flip, temperatures: [.flip: 2, .tenCrop: 0.5])
            .classify(faces: Self.boxes, in: Self.photo)
        let otherViews = try Self.recognizer(.flip, temperatures: [.tenCrop: 0.5])
            .classify(faces: Self.boxes, in: Self.photo)
        for slot in Self.boxes.indices {
            let expected = Calibration.scaled(plain[slot].probabilities, classes: 7, temperature: 2)
            #expect(closeness(calibrated[slot].probabilities, expected, absoluteTolerance: 1e-6) <= 1, "face \(slot)")
            #expect(closeness(calibrated[slot].probabilities, plain[slot].probabilities, absoluteTolerance: 1e-4) > 1)
            #expect(otherViews[slot].probabilities == plain[slot].probabilities, "face \(slot)")
        }
    }

    @Test func theCardsAugmentationChangesTheAnswer() throws {
        let plain = try Self.recognizer(nil).classify(faces: Self.boxes, in: Self.photo)
        let tenCrop = try Self.recognizer(.tenCrop).classify(faces: Self.boxes, in: Self.photo)
        #expect(closeness(plain[0].probabilities, tenCrop[0].probabilities, absoluteTolerance: 1e-4) > 1)
    }
}
