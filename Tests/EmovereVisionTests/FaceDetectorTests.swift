import Foundation
import Testing
@testable import EmovereVision

/// Fixtures/opencv_boxes.json, written by scripts/opencv_reference_boxes.py with opencv-python 4.x.
struct OpenCVReference: Decodable {
    struct ImageInfo: Decodable {
        var image: String
        var width: Int
        var height: Int
        var pixelSum: Int
        var weightedPixelSum: Int
    }

    struct Case: Decodable, CustomStringConvertible {
        var image: String
        var cascade: String
        var parameters: String
        var scaleFactor: Double
        var minNeighbors: Int
        var minSize: [Int]
        var maxSize: [Int]
        var boxes: [[Int]]

        var description: String { "\(image) \(cascade) \(parameters)" }

        var referenceBoxes: [Rect] { boxes.map { Rect(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) } }

        func detectionParameters() throws -> FaceDetector.DetectionParameters {
            func size(_ values: [Int]) -> FaceDetector.WindowSize? {
                values == [0, 0] ? nil : FaceDetector.WindowSize(width: values[0], height: values[1])
            }
            return try FaceDetector.DetectionParameters(scaleFactor: scaleFactor, minimumNeighbors: minNeighbors,
                                                        minimumSize: size(minSize), maximumSize: size(maxSize))
        }
    }

    var opencv_version: String
    var images: [ImageInfo]
    var resizes: [ImageInfo]
    var cases: [Case]

    static func load() throws -> OpenCVReference {
        let data = try Data(contentsOf: URL(fileURLWithPath: HaarFixtures.path("opencv_boxes.json")))
        return try JSONDecoder().decode(OpenCVReference.self, from: data)
    }

    /// Cases whose cascade is available: the bundled default cascade always, others from an opencv-data install.
    static func cascadePath(for name: String) -> String? {
        name == HaarCascade.defaultFrontalFaceFileName ? HaarFixtures.defaultCascadePath : HaarCascade.locate(named: name)
    }
}

/// Same checksum as `weighted_sum` in scripts/opencv_reference_boxes.py.
func haarWeightedSum(_ pixels: [UInt8]) -> Int {
    var total = 0
    for (index, value) in pixels.enumerated() { total += Int(value) * (index % 251 + 1) }
    return total
}

/// Greedy one-to-one matching at `minimumIoU`; returns matched reference count and unmatched detections.
func haarMatch(reference: [Rect], detected: [Rect], minimumIoU: Double) -> (matched: Int, extra: [Rect]) {
    var unused = detected
    var matched = 0
    for box in reference {
        if let best = unused.indices.max(by: { unused[$0].intersectionOverUnion(box) < unused[$1].intersectionOverUnion(box) }),
           unused[best].intersectionOverUnion(box) >= minimumIoU {
            matched += 1
            unused.remove(at: best)
        }
    }
    return (matched, unused)
}

@Suite("Face detector vs OpenCV")
struct FaceDetectorTests {
    @Test("fixture PNGs decode to exactly the pixels OpenCV saw")
    func fixturePixelsMatchOpenCV() throws {
        let reference = try OpenCVReference.load()
        #expect(reference.images.count >= 4)
        for info in reference.images {
            let image = try GrayImage(contentsOf: HaarFixtures.path(info.image))
            #expect(image.width == info.width && image.height == info.height, "\(info.image)")
            #expect(image.pixels.reduce(0) { $0 + Int($1) } == info.pixelSum, "\(info.image)")
            #expect(haarWeightedSum(image.pixels) == info.weightedPixelSum, "\(info.image)")
        }
    }

    @Test("pyramid resize is bit-exact with OpenCV INTER_LINEAR_EXACT")
    func resizeMatchesOpenCV() throws {
        let reference = try OpenCVReference.load()
        #expect(!reference.resizes.isEmpty)
        for info in reference.resizes {
            let source = try GrayImage(contentsOf: HaarFixtures.path(info.image))
            var output = [UInt8](repeating: 0, count: info.width * info.height)
            source.pixels.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { destination in
                    HaarPyramidResize.resize(source: input.baseAddress!, sourceWidth: source.width,
                                             sourceHeight: source.height, sourceStride: source.width,
                                             destination: destination.baseAddress!, destinationWidth: info.width,
                                             destinationHeight: info.height, destinationStride: info.width, concurrency: 2)
                }
            }
            #expect(output.reduce(0) { $0 + Int($1) } == info.pixelSum, "\(info.width)x\(info.height)")
            #expect(haarWeightedSum(output) == info.weightedPixelSum, "\(info.width)x\(info.height)")
        }
    }

    @Test("detections match OpenCV detectMultiScale: >= 95% of reference boxes at IoU >= 0.8, no extras")
    func matchesOpenCVBoxes() throws {
        let reference = try OpenCVReference.load()
        var cascades: [String: HaarCascade] = [:]
        var totalReference = 0, totalMatched = 0, casesRun = 0
        for testCase in reference.cases {
            let path = try #require(OpenCVReference.cascadePath(for: testCase.cascade),
                                    "\(testCase.cascade) not found: install opencv-data (scripts/test.sh does)")
            if cascades[path] == nil { cascades[path] = try HaarCascade(contentsOf: path) }
            let detector = FaceDetector(cascade: try #require(cascades[path]), concurrency: 2)
            let image = try GrayImage(contentsOf: HaarFixtures.path(testCase.image))
            let detected = detector.detect(in: image, parameters: try testCase.detectionParameters())
            let result = haarMatch(reference: testCase.referenceBoxes, detected: detected, minimumIoU: 0.8)
            #expect(result.extra.isEmpty, "\(testCase): extra boxes \(result.extra)")
            #expect(Double(result.matched) >= 0.95 * Double(testCase.boxes.count),
                    "\(testCase): matched \(result.matched) of \(testCase.boxes.count); got \(detected)")
            totalReference += testCase.boxes.count
            totalMatched += result.matched
            casesRun += 1
        }
        #expect(casesRun >= 16)
        #expect(totalReference > 100)
        #expect(totalMatched == totalReference, "matched \(totalMatched) of \(totalReference) reference boxes")
    }

    @Test("raw candidate windows (minimumNeighbors 0) are identical to OpenCV's")
    func rawCandidatesIdentical() throws {
        let reference = try OpenCVReference.load()
        let cases = reference.cases.filter { $0.minNeighbors == 0 }
        #expect(!cases.isEmpty, "the reference holds raw-candidate cases")
        for testCase in cases {
            let path = try #require(OpenCVReference.cascadePath(for: testCase.cascade),
                                    "\(testCase.cascade) not found: install opencv-data (scripts/test.sh does)")
            let detector = FaceDetector(cascade: try HaarCascade(contentsOf: path), concurrency: 2)
            let image = try GrayImage(contentsOf: HaarFixtures.path(testCase.image))
            let detected = detector.detect(in: image, parameters: try testCase.detectionParameters())
            let sortedDetected = detected.sorted { ($0.x, $0.y, $0.width, $0.height) < ($1.x, $1.y, $1.width, $1.height) }
            #expect(sortedDetected == testCase.referenceBoxes, "\(testCase)")
        }
    }

    @Test("output is deterministic and independent of the thread count")
    func deterministic() throws {
        let cascade = try HaarFixtures.defaultCascade()
        let image = try GrayImage(contentsOf: HaarFixtures.path("composite_gray.png"))
        let parameters = try FaceDetector.DetectionParameters(scaleFactor: 1.1, minimumNeighbors: 0)
        let single = FaceDetector(cascade: cascade, concurrency: 1).detect(in: image, parameters: parameters)
        let parallel = FaceDetector(cascade: cascade, concurrency: 4).detect(in: image, parameters: parameters)
        #expect(!single.isEmpty)
        #expect(single == parallel)
    }

    @Test("no face on blank, gradient or noise images")
    func noFaceOnSyntheticImages() throws {
        let detector = FaceDetector(cascade: try HaarFixtures.defaultCascade(), concurrency: 2)
        var random = HaarTestRandom(state: 42)
        let noise = GrayImage(width: 320, height: 240, pixels: (0..<(320 * 240)).map { _ in random.byte() })
        let gradient = GrayImage(width: 320, height: 240, pixels: (0..<(320 * 240)).map { UInt8(($0 % 320) * 255 / 319) })
        for image in [GrayImage(width: 320, height: 240, value: 0), GrayImage(width: 320, height: 240, value: 200), gradient, noise] {
            #expect(detector.detect(in: image).isEmpty)
            #expect(detector.detect(in: image, parameters: .openCVDefaults).isEmpty)
        }
    }

    @Test("images smaller than the window and degenerate sizes return nothing")
    func tinyImages() throws {
        let detector = FaceDetector(cascade: try HaarFixtures.defaultCascade())
        for (width, height) in [(0, 0), (1, 1), (23, 100), (100, 23), (24, 24)] {
            #expect(detector.detect(in: GrayImage(width: width, height: height, value: 128)).isEmpty)
        }
    }

    @Test("invalid parameters are rejected with a message")
    func invalidParameters() {
        #expect(throws: FaceDetectorError.self) { try FaceDetector.DetectionParameters(scaleFactor: 1.0) }
        #expect(throws: FaceDetectorError.self) { try FaceDetector.DetectionParameters(scaleFactor: .nan) }
        #expect(throws: FaceDetectorError.self) { try FaceDetector.DetectionParameters(minimumNeighbors: -1) }
        #expect(throws: FaceDetectorError.self) {
            try FaceDetector.DetectionParameters(minimumSize: FaceDetector.WindowSize(width: -1, height: 10))
        }
        let error = #expect(throws: FaceDetectorError.self) { try FaceDetector.DetectionParameters(scaleFactor: 0.5) }
        #expect(error?.description.contains("scaleFactor") == true && error?.description.contains("0.5") == true,
                "\(String(describing: error))")
        #expect(FaceDetector.DetectionParameters.faceClassification.scaleFactor == 1.3)
        #expect(FaceDetector.DetectionParameters.faceClassification.minimumNeighbors == 5)
    }

    @Test("pyramid scales follow OpenCV (window fits, min/max size, closest level fallback)")
    func pyramidScales() throws {
        let detector = FaceDetector(cascade: try HaarFixtures.defaultCascade())
        let scales = detector.pyramidScales(imageWidth: 100, imageHeight: 60, parameters: .faceClassification)
        // Windows 24, 31, 41, 53 fit a 100x60 image; 24 * 1.3^4 = 69 does not.
        #expect(scales == [1, Float(1.3), Float(1.3 * 1.3), Float(1.3 * 1.3 * 1.3)])
        let fixed = try FaceDetector.DetectionParameters(scaleFactor: 1.3, minimumNeighbors: 3,
                                                         minimumSize: .init(width: 35, height: 35),
                                                         maximumSize: .init(width: 35, height: 35))
        // No level gives exactly 35 px; OpenCV falls back to the closest one (31 px at 1.3, not 41 px at 1.69).
        let fallback = detector.pyramidScales(imageWidth: 200, imageHeight: 200, parameters: fixed)
        #expect(fallback == [Float(1.3)])
    }
}

@Suite("Face detector convenience")
struct FaceDetectorConvenienceTests {
    @Test("the installed default cascade loads and finds the astronaut",
          .enabled(if: HaarCascade.locate() != nil))
    func defaultFrontalFace() throws {
        let detector = try FaceDetector.defaultFrontalFace()
        let image = try GrayImage(contentsOf: HaarFixtures.path("astronaut_gray.png"))
        let faces = detector.detectWithNeighborCounts(in: image)
        #expect(faces.map(\.box) == [Rect(x: 176, y: 66, width: 95, height: 95)])
        #expect(faces.allSatisfy { $0.neighbors > 5 })
    }
}
