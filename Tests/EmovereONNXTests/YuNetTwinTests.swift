import Emovere
import EmovereVision
import Foundation
import Testing

/// YuNet on Emovere's engine against its reference twin, OpenCV's `cv2.FaceDetectorYN`, on the same pixels and
/// size: the same faces in the same order, boxes and landmarks within 1 px, scores within 1e-3.
@Suite(.serialized)
struct YuNetTwinTests {
    static let sample = ONNXImportTests.root + "/samples/astronaut.jpg"

    /// Reads raw RGB pixels, runs FaceDetectorYN at that size and prints one line per face (15 numbers).
    static let script = """
        import sys
        try:
            import numpy as np, cv2
        except ImportError as error:
            print(error, file=sys.stderr); sys.exit(3)
        folder, model, width, height, threshold = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        rgb = np.fromfile(folder + "/image.rgb", dtype=np.uint8).reshape(height, width, 3)
        detector = cv2.FaceDetectorYN.create(model, "", (width, height), threshold, 0.3, 5000)
        _, faces = detector.detect(np.ascontiguousarray(rgb[:, :, ::-1]))
        for face in ([] if faces is None else faces):
            print(" ".join("%.6f" % v for v in face))
        """

    /// The sample at its size, and a 640x480 group of the sample's face at five sizes (30 to 200 px) on grey.
    static func images() throws -> [(String, RGBImage)] {
        let photo = try RGBImage(contentsOf: sample)
        var group = RGBImage(width: 640, height: 480, red: 90, green: 100, blue: 110)
        let face = photo.cropped(to: Rect(x: 140, y: 30, width: 160, height: 180))
        for (index, side) in [30, 50, 80, 120, 200].enumerated() {
            let scaled = face.resized(width: side, height: side * 9 / 8)
            let origin = (x: [10, 80, 160, 280, 420][index], y: [20, 300, 60, 260, 40][index])
            for y in 0..<scaled.height where origin.y + y < group.height {
                for x in 0..<scaled.width where origin.x + x < group.width {
                    group[origin.x + x, origin.y + y] = scaled[x, y]
                }
            }
        }
        return [("astronaut 512x512", photo), ("group 640x480", group), ("sample 300x200 (padded)", photo.resized(width: 300, height: 200))]
    }

    @Test func candidatesMatchOpenCV() throws {
        let detector = try YuNetDetector(contentsOf: ONNXImportTests.yunet,
                                         settings: YuNetDetector.Settings(scoreThreshold: 0.5))
        for (name, image) in try Self.images() {
            let (printed, _) = try PythonOracle.run(
                script: Self.script, files: ["image.rgb": Data(image.pixels)],
                arguments: ["{folder}", ONNXImportTests.yunet, "\(image.width)", "\(image.height)", "0.5"])
            let reference = printed.split(separator: "\n").map { $0.split(separator: " ").compactMap { Float($0) } }
            let ours = detector.candidates(in: image)
            try #require(ours.count == reference.count, "\(name): \(ours.count) faces, OpenCV \(reference.count)")
            #expect(!ours.isEmpty, "\(name): no face found")
            for (face, row) in zip(ours, reference) {
                let box = [face.x, face.y, face.width, face.height]
                let points = face.landmarks.points.flatMap { [$0.x, $0.y] }
                #expect(zip(box, row[0..<4]).allSatisfy { abs($0 - $1) <= 1 }, "\(name): box \(box) vs \(row[0..<4])")
                #expect(zip(points, row[4..<14]).allSatisfy { abs($0 - $1) <= 1 }, "\(name): landmarks \(points) vs \(row[4..<14])")
                #expect(abs(face.score - row[14]) <= 1e-3, "\(name): score \(face.score) vs \(row[14])")
            }
        }
    }

    /// The group image's faces are found through the public detection path (all but perhaps the 30 px one), and
    /// boxes map back when a photo is scaled down for detection.
    @Test func scaledDetectionFindsTheFacesOfTheGroup() throws {
        let group = try #require(try Self.images().first { $0.0.hasPrefix("group") }?.1)
        let large = group.resized(width: 1280, height: 960)
        let detector = try YuNetDetector(contentsOf: ONNXImportTests.yunet)
        let native = detector.detect(in: group)
        let scaled = detector.detect(in: large)
        #expect(native.count >= 4, "\(native)")
        for face in native {
            let twice = Rect(x: face.box.x * 2, y: face.box.y * 2, width: face.box.width * 2, height: face.box.height * 2)
            #expect(scaled.contains { $0.box.intersectionOverUnion(twice) > 0.8 }, "\(face.box) not found at 2x")
        }
    }
}
