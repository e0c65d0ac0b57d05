import Emovere
import EmovereNN
import EmovereVision
import Foundation
import Testing

struct FaceFramingTests {
    /// An upright face: eyes at (40, 50) and (60, 50), mouth corners at (42, 70) and (58, 70).
    static let upright = FaceLandmarks(
        rightEye: ImagePoint(x: 40, y: 50), leftEye: ImagePoint(x: 60, y: 50), noseTip: ImagePoint(x: 50, y: 60),
        rightMouthCorner: ImagePoint(x: 42, y: 70), leftMouthCorner: ImagePoint(x: 58, y: 70))

    /// `point` turned by `angle` radians (clockwise as displayed) about `centre`.
    static func turned(_ point: ImagePoint, by angle: Float, about centre: ImagePoint) -> ImagePoint {
        let dx = point.x - centre.x, dy = point.y - centre.y
        return ImagePoint(x: centre.x + dx * cosf(angle) - dy * sinf(angle), y: centre.y + dx * sinf(angle) + dy * cosf(angle))
    }

    static func turned(_ landmarks: FaceLandmarks, by angle: Float, about centre: ImagePoint) -> FaceLandmarks {
        landmarks.mapped { turned($0, by: angle, about: centre) }
    }

    /// An upright face is framed as FER2013's faces are: side = 20 / 0.38 = 52.6 px, the features' centre (50, 60)
    /// at (0.49, 0.57) of the crop, no turn.
    @Test func anUprightFaceIsFramedLikeFER2013() {
        let region = FaceFraming.fer2013.crop(for: Self.upright)
        #expect(region.angle == 0)
        #expect(region.rect == Rect(x: 24, y: 30, width: 53, height: 53), "\(region.rect)")
    }

    /// Landmarks that are not numbers, or far beyond any photo, frame an empty crop instead of trapping on the
    /// conversion to whole pixels; a region turned by an angle that is not a number samples as an unturned one.
    @Test func brokenLandmarksFrameNothing() {
        for broken in [Float.nan, .infinity, 1e12] {
            let landmarks = Self.upright.mapped { ImagePoint(x: $0.x == 40 ? broken : $0.x, y: $0.y) }
            #expect(FaceFraming.fer2013.crop(for: landmarks).rect.isEmpty, "\(broken)")
        }
        let image = GrayImage(width: 20, height: 20, pixels: (0..<400).map { UInt8($0 % 256) })
        let rect = Rect(x: 2, y: 3, width: 10, height: 10)
        #expect(image.sampled(ImageRegion(rect: rect, angle: .nan), width: 5, height: 5)
                == image.sampled(ImageRegion(rect: rect), width: 5, height: 5))
        #expect(ImageRegion(rect: rect, angle: .infinity).boundingBox == rect)
    }

    /// A tilted head is framed as if upright: the same square about the same point of the face, turned with the
    /// eye line (either way, and upside down); without levelling the crop keeps the image's axes.
    @Test(arguments: [Float(0.4), -0.6, 3.0])
    func aTiltedFaceIsFramedUpright(angle: Float) {
        let pivot = ImagePoint(x: 50, y: 60)
        let tilted = Self.turned(Self.upright, by: angle, about: pivot)
        let region = FaceFraming.fer2013.crop(for: tilted)
        #expect(abs(region.angle - angle) < 1e-4, "\(region.angle)")
        let upright = FaceFraming.fer2013.crop(for: Self.upright)
        #expect(region.rect.width == upright.rect.width)
        // The crop's centre is the upright crop's centre turned with the face (within the rounding of the corner and
        // the side to whole pixels: 0.75 px each way).
        let centre = Self.turned(upright.centre, by: angle, about: pivot)
        #expect(abs(region.centre.x - centre.x) <= 1.5 && abs(region.centre.y - centre.y) <= 1.5,
                "\(region.centre) against \(centre)")
        var level = FaceFraming.fer2013
        level.levelsEyes = false
        #expect(level.crop(for: tilted).angle == 0)
    }

    /// Through the recognizer, a photo of a tilted face gives the model the face upright: the face image of a
    /// pattern turned with its landmarks matches the upright one's within a few grey levels.
    @Test func theRecognizerSeesATiltedFaceUpright() throws {
        let angle: Float = 0.5
        let pivot = ImagePoint(x: 50, y: 60)
        func photo(turnedBy angle: Float) -> GrayImage {
            var pixels = [UInt8]()
            for y in 0..<120 {
                for x in 0..<100 {
                    let dx = Float(x) + 0.5 - pivot.x, dy = Float(y) + 0.5 - pivot.y
                    let u = pivot.x + dx * cosf(angle) + dy * sinf(angle), v = pivot.y - dx * sinf(angle) + dy * cosf(angle)
                    pixels.append(UInt8((128 + 60 * sinf(u / 6) + 50 * cosf(v / 4)).rounded()))
                }
            }
            return GrayImage(width: 100, height: 120, pixels: pixels)
        }
        let model = try Model(architecture: Architecture(name: "tiny-cnn", inputSize: 48), seed: 1)
        let card = ModelCard(architecture: model.architecture, preprocessing: .symmetric(inputSize: 48),
                             parameterCount: model.parameterCount)
        let recognizer = EmotionRecognizer(model: model, card: card, detector: WholeImageDetector())
        let box = Rect(x: 20, y: 30, width: 60, height: 60)
        let uprightFace = recognizer.faceImage(for: DetectedFace(box: box, landmarks: Self.upright), in: photo(turnedBy: 0))
        let tiltedFace = DetectedFace(box: box, landmarks: Self.turned(Self.upright, by: angle, about: pivot))
        let levelled = recognizer.faceImage(for: tiltedFace, in: photo(turnedBy: angle))
        var axisAligned = FaceFraming.fer2013
        axisAligned.levelsEyes = false
        let unlevelledRecognizer = EmotionRecognizer(model: model, card: card, detector: WholeImageDetector(),
                                                     framing: axisAligned)
        let unlevelled = unlevelledRecognizer.faceImage(for: tiltedFace, in: photo(turnedBy: angle))
        func meanDifference(_ image: GrayImage) -> Double {
            Double(zip(uprightFace.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +)) / Double(image.pixels.count)
        }
        #expect(meanDifference(levelled) < 5 && meanDifference(unlevelled) > 20,
                "mean difference \(meanDifference(levelled)) levelled, \(meanDifference(unlevelled)) not")
        #expect(abs(recognizer.sampledRegion(for: tiltedFace, in: photo(turnedBy: angle)).angle - angle) < 1e-5)
    }
}
