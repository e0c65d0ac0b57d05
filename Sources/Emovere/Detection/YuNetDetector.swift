import EmovereNN
import EmovereONNX
import EmovereTensor
import EmovereVision
import Foundation

/// Why a YuNet detector could not be made.
public enum YuNetError: Error, CustomStringConvertible, Equatable {
    /// The ONNX file could not be imported.
    case importFailed(ONNXImportError)
    /// The file imports but is not a YuNet detector (inputs or outputs differ).
    case notYuNet(path: String, reason: String)
    /// A setting is out of range.
    case invalidSetting(name: String, expected: String, received: String)

    public var description: String {
        switch self {
        case let .importFailed(error): "\(error)"
        case let .notYuNet(path, reason): "\(path): not a YuNet face detector: \(reason)"
        case let .invalidSetting(name, expected, received): "YuNet \(name): expected \(expected), received \(received)"
        }
    }
}

/// YuNet (OpenCV Zoo's CNN face detector, with five landmarks) run on Emovere's engine, decoded as OpenCV's
/// `FaceDetectorYN` does:
///
/// 1. The image (scaled down first when its longer side exceeds `Settings.workingSize`) is padded with black at the
///    bottom and right to multiples of 32 and fed as raw 0-255 BGR values, `[1, H, W, 3]`.
/// 2. At strides 8, 16 and 32 each cell's score is `sqrt(clamp(cls) * clamp(obj))`; a cell at or above the
///    threshold gives a box centred at `(column + dx, row + dy) * stride` of size `exp(dw, dh) * stride` and
///    landmarks at `(column + lx, row + ly) * stride`.
/// 3. Boxes go through OpenCV's `NMSBoxes` (integer boxes, scores above the threshold, IoU above `nmsThreshold`
///    suppressed, at most `topK`), then are mapped back to the photo and clipped to it.
///
/// Keeps the graph built for the last input size, so one detector serves one thread at a time.
public final class YuNetDetector: FaceDetecting {
    /// Detection settings.
    public struct Settings: Sendable, Equatable {
        /// Candidates scoring below this are dropped, in `(0, 1]`.
        public var scoreThreshold: Float
        /// Boxes overlapping a better one by more than this IoU are suppressed, in `[0, 1]`.
        public var nmsThreshold: Float
        /// At most this many candidates enter the suppression.
        public var topK: Int
        /// The longest side, in pixels, a photo is scaled down to before detection (YuNet finds faces of about
        /// 10-300 px at the size it runs on); smaller photos run at their own size.
        public var workingSize: Int

        /// The settings where none are given: score 0.6, suppression IoU 0.3, 5,000 candidates, 640 pixels.
        public static let standard = Settings(unchecked: 0.6, 0.3, 5000, 640)

        /// Validated settings; each one left out is ``standard``'s.
        /// - Throws: ``YuNetError/invalidSetting(name:expected:received:)`` for values out of range.
        public init(scoreThreshold: Float = standard.scoreThreshold, nmsThreshold: Float = standard.nmsThreshold,
                    topK: Int = standard.topK, workingSize: Int = standard.workingSize) throws(YuNetError) {
            guard scoreThreshold > 0, scoreThreshold <= 1 else {
                throw .invalidSetting(name: "score threshold", expected: "a value in (0, 1]", received: "\(scoreThreshold)")
            }
            guard nmsThreshold >= 0, nmsThreshold <= 1 else {
                throw .invalidSetting(name: "NMS threshold", expected: "a value in [0, 1]", received: "\(nmsThreshold)")
            }
            guard topK >= 1 else { throw .invalidSetting(name: "top k", expected: "1 or more", received: "\(topK)") }
            guard workingSize >= 32, workingSize <= 8192 else {
                throw .invalidSetting(name: "working size", expected: "32 to 8192 pixels", received: "\(workingSize)")
            }
            self.init(unchecked: scoreThreshold, nmsThreshold, topK, workingSize)
        }

        private init(unchecked scoreThreshold: Float, _ nmsThreshold: Float, _ topK: Int, _ workingSize: Int) {
            self.scoreThreshold = scoreThreshold
            self.nmsThreshold = nmsThreshold
            self.topK = topK
            self.workingSize = workingSize
        }
    }

    /// The file name of the bundled model (in `models/`).
    public static let bundledFileName = "face_detection_yunet_2026may.onnx"
    /// The SHA-256 of the bundled model (the OpenCV Zoo's file, unchanged): ONNX files carry no checksum of their own,
    /// and a flipped byte in a weight can leave a graph that imports and finds wrong faces.
    public static let bundledDigest = "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0"
    /// The strides of YuNet's three heads.
    static let strides = [8, 16, 32]

    public let network: ONNXGraph
    public let settings: Settings
    private let outputIndices: [String: Int]
    private var graph: Graph?
    private var input: Tensor?

    /// A detector for the YuNet ONNX file at `path`.
    /// - Throws: ``YuNetError`` when the file cannot be imported or lacks YuNet's outputs.
    public convenience init(contentsOf path: String, settings: Settings? = nil) throws(YuNetError) {
        let network: ONNXGraph
        do {
            network = try ONNXImporter.graph(contentsOf: path)
        } catch {
            throw .importFailed(error)
        }
        try self.init(network: network, settings: settings)
    }

    /// A detector for an imported YuNet graph (three channels in; `cls`, `obj`, `bbox` and `kps` at strides 8, 16, 32 out).
    public init(network: ONNXGraph, settings: Settings? = nil) throws(YuNetError) {
        guard network.inputChannels == 3 else {
            throw .notYuNet(path: network.source, reason: "expected a 3-channel input, found \(network.inputChannels)")
        }
        var indices: [String: Int] = [:]
        for (index, name) in network.outputNames.enumerated() { indices[name] = index }
        let required = ["cls", "obj", "bbox", "kps"].flatMap { head in Self.strides.map { "\(head)_\($0)" } }
        if let missing = required.first(where: { indices[$0] == nil }) {
            throw .notYuNet(path: network.source, reason: "no output '\(missing)' (outputs: \(network.outputNames.joined(separator: ", ")))")
        }
        // Each side's maps depend on that side alone (square kernels and strides), so building every square size
        // `detect` can pad a photo to (multiples of 32 up to the working size, or up to the neighbourhoods of
        // `detect(in:near:)`), and one oblong size, proves that the graph builds with YuNet's maps for every size
        // `detect` meets: the decoding reads each output as that many cells of that many values, and a graph whose
        // branches meet at some sizes only is refused here.
        let largest = (max((settings ?? .standard).workingSize, 4 * Self.nearFaceSide) + 31) / 32 * 32
        for (height, width) in stride(from: 32, through: largest, by: 32).map({ ($0, $0) }) + [(64, 96)] {
            _ = try Self.checkBuilds(network, height: height, width: width, indices: indices)
        }
        self.network = network
        self.settings = settings ?? .standard
        outputIndices = indices
    }

    /// Builds `network` for a `width x height` input and checks its outputs.
    private static func checkBuilds(_ network: ONNXGraph, height: Int, width: Int,
                                    indices: [String: Int]) throws(YuNetError) -> Graph {
        let graph: Graph
        do {
            graph = try network.instantiate(height: height, width: width)
        } catch {
            throw .notYuNet(path: network.source, reason: "the network does not build for a \(width)x\(height) input: \(error)")
        }
        try checkOutputs(of: graph, indices: indices, height: height, width: width, source: network.source)
        return graph
    }

    /// The values per cell of each output head.
    private static let headChannels = [("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10)]

    /// Checks that each output of `graph`, built for `width x height`, holds its head's values for every cell of its
    /// stride's map.
    private static func checkOutputs(of graph: Graph, indices: [String: Int], height: Int, width: Int,
                                     source: String) throws(YuNetError) {
        for (head, channels) in headChannels {
            for stride in strides {
                let name = "\(head)_\(stride)"
                let values = graph.outputShapes[indices[name] ?? 0].reduce(1, *)
                let expected = (height / stride) * (width / stride) * channels
                guard values == expected else {
                    throw .notYuNet(path: source, reason: "output '\(name)' holds \(values) values for a \(width)x\(height) input, expected \(expected) (\(channels) for each cell of its \(width / stride)x\(height / stride) map)")
                }
            }
        }
    }

    public var description: DetectorDescription {
        DetectorDescription(kind: .yunet, scoreThreshold: settings.scoreThreshold,
                            file: (network.source as NSString).lastPathComponent, detectionSize: settings.workingSize)
    }

    /// Faces in `image`, scaled down to `Settings.workingSize` first when larger.
    public func detect(in image: RGBImage) -> [DetectedFace] {
        detect(in: image, longestSide: settings.workingSize)
    }

    /// The side, in pixels, `detect(in:near:)` scales a face to: its neighbourhood, twice the face, is at most
    /// twice this.
    static let nearFaceSide = 80

    /// Faces near `box`: YuNet on the box's neighbourhood (grown by half the box on every side), scaled so the face
    /// is about ``nearFaceSide`` px, keeping faces from 2/3 to 3/2 of the box's size.
    public func detect(in image: RGBImage, near box: Rect) -> [DetectedFace] {
        let region = box.expanded(byFraction: 0.5).clamped(toWidth: image.width, height: image.height)
        let side = max(box.width, box.height)
        guard !region.isEmpty, side > 0 else { return [] }
        let longest = max(region.width, region.height)
        let target = max(32, min(longest, longest * Self.nearFaceSide / side))
        return detect(in: image.cropped(to: region), longestSide: target).compactMap { face in
            let faceSide = max(face.box.width, face.box.height)
            guard faceSide * 3 >= side * 2, faceSide * 2 <= side * 3 else { return nil }
            return DetectedFace(box: Rect(x: face.box.x + region.x, y: face.box.y + region.y, width: face.box.width,
                                          height: face.box.height),
                                score: face.score,
                                landmarks: face.landmarks?.mapped { ImagePoint(x: $0.x + Float(region.x), y: $0.y + Float(region.y)) })
        }
    }

    private func detect(in image: RGBImage, longestSide: Int) -> [DetectedFace] {
        guard image.width > 0, image.height > 0 else { return [] }
        let longest = max(image.width, image.height)
        var working = image
        var scale: Float = 1
        if longest > longestSide {
            let width = max(1, (image.width * longestSide + longest / 2) / longest)
            let height = max(1, (image.height * longestSide + longest / 2) / longest)
            working = image.resized(width: width, height: height)
            scale = Float(image.width) / Float(width)
        }
        let scaleY = Float(image.height) / Float(working.height)
        // A face whose box rounds or clips to nothing (outside the photo, or a damaged network's) is no face.
        return candidates(in: working).map { candidate in
            let x = candidate.x * scale, y = candidate.y * scaleY
            let box = Rect(x: Int(x.rounded()), y: Int(y.rounded()),
                           width: Int((x + candidate.width * scale).rounded()) - Int(x.rounded()),
                           height: Int((y + candidate.height * scaleY).rounded()) - Int(y.rounded()))
            return DetectedFace(
                box: box.clamped(toWidth: image.width, height: image.height), score: candidate.score,
                landmarks: candidate.landmarks.mapped { ImagePoint(x: $0.x * scale, y: $0.y * scaleY) })
        }.filter { !$0.box.isEmpty }
    }

    /// One decoded face at the network's input size, before clipping (OpenCV's row of 15 floats).
    public struct Candidate: Sendable, Equatable {
        public var x: Float
        public var y: Float
        public var width: Float
        public var height: Float
        public var landmarks: FaceLandmarks
        public var score: Float
    }

    /// What `cv2.FaceDetectorYN` returns for `image` at its own size: decoded, suppressed faces in OpenCV's order
    /// (by descending score), coordinates unclipped. None for an image larger than every size `init` built the
    /// graph for when the graph does not build with YuNet's maps at its size (never for `detect`'s images).
    public func candidates(in image: RGBImage) -> [Candidate] {
        let paddedWidth = (image.width + 31) / 32 * 32
        let paddedHeight = (image.height + 31) / 32 * 32
        guard let outputs = run(image, paddedWidth: paddedWidth, paddedHeight: paddedHeight) else { return [] }
        var found: [Candidate] = []
        for stride in Self.strides {
            let columns = paddedWidth / stride, rows = paddedHeight / stride
            let cls = outputs[outputIndices["cls_\(stride)"]!].pointer
            let obj = outputs[outputIndices["obj_\(stride)"]!].pointer
            let bbox = outputs[outputIndices["bbox_\(stride)"]!].pointer
            let kps = outputs[outputIndices["kps_\(stride)"]!].pointer
            let step = Float(stride)
            for row in 0..<rows {
                for column in 0..<columns {
                    let cell = row * columns + column
                    let score = (min(max(cls[cell], 0), 1) * min(max(obj[cell], 0), 1)).squareRoot()
                    guard score >= settings.scoreThreshold else { continue }
                    let (c, r) = (Float(column), Float(row))
                    let centreX = (c + bbox[cell * 4]) * step, centreY = (r + bbox[cell * 4 + 1]) * step
                    let width = expf(bbox[cell * 4 + 2]) * step, height = expf(bbox[cell * 4 + 3]) * step
                    func point(_ n: Int) -> ImagePoint {
                        ImagePoint(x: (kps[cell * 10 + 2 * n] + c) * step, y: (kps[cell * 10 + 2 * n + 1] + r) * step)
                    }
                    // A damaged network's cell (an infinite or absurd box or landmark) is no face; pixel coordinates
                    // become integers below, which traps on infinity.
                    let values = [centreX, centreY, width, height] + (0..<5).flatMap { [point($0).x, point($0).y] }
                    guard values.allSatisfy({ abs($0) < 1e6 }) else { continue }
                    found.append(Candidate(
                        x: centreX - width / 2, y: centreY - height / 2, width: width, height: height,
                        landmarks: FaceLandmarks(rightEye: point(0), leftEye: point(1), noseTip: point(2),
                                                 rightMouthCorner: point(3), leftMouthCorner: point(4)),
                        score: score))
                }
            }
        }
        guard found.count > 1 else { return found }
        return NonMaximumSuppression.keep(
            boxes: found.map { Rect(x: Int($0.x), y: Int($0.y), width: Int($0.width), height: Int($0.height)) },
            scores: found.map(\.score), scoreThreshold: settings.scoreThreshold, overlapThreshold: settings.nmsThreshold,
            topK: settings.topK
        ).map { found[$0] }
    }

    /// The network's outputs for `image` padded to `paddedWidth x paddedHeight`; nil when the graph does not build
    /// with YuNet's maps at that size (beyond the sizes `init` checked).
    private func run(_ image: RGBImage, paddedWidth: Int, paddedHeight: Int) -> [Tensor]? {
        let shape = [1, paddedHeight, paddedWidth, 3]
        if graph == nil || input?.shape != shape {
            guard let built = try? Self.checkBuilds(network, height: paddedHeight, width: paddedWidth,
                                                    indices: outputIndices) else { return nil }
            graph = built
            input = Tensor(shape: shape)
        }
        guard let graph, let input else { preconditionFailure("YuNet graph missing after instantiation") }
        input.zero()
        image.pixels.withUnsafeBufferPointer { pixels in
            for row in 0..<image.height {
                var source = row * image.width * 3
                var destination = input.pointer + row * paddedWidth * 3
                for _ in 0..<image.width {
                    // RGB pixels, BGR input.
                    destination[0] = Float(pixels[source + 2])
                    destination[1] = Float(pixels[source + 1])
                    destination[2] = Float(pixels[source])
                    source += 3
                    destination += 3
                }
            }
        }
        return graph.forwardAll(input, mode: .inference)
    }
}

/// OpenCV's `dnn::NMSBoxes` (with `eta` 1): candidates scoring above the threshold, best first (stable for equal
/// scores), each kept unless its IoU with an already kept box exceeds the overlap threshold.
enum NonMaximumSuppression {
    static func keep(boxes: [Rect], scores: [Float], scoreThreshold: Float, overlapThreshold: Float, topK: Int) -> [Int] {
        var order = scores.indices.filter { scores[$0] > scoreThreshold }
        // A stable sort by descending score, as OpenCV's std::stable_sort.
        order = order.enumerated().sorted { a, b in
            scores[a.element] != scores[b.element] ? scores[a.element] > scores[b.element] : a.offset < b.offset
        }.map(\.element)
        if topK > 0, order.count > topK { order = Array(order.prefix(topK)) }
        var kept: [Int] = []
        for index in order {
            let box = boxes[index]
            let overlaps = kept.contains { other in
                let intersection = box.intersection(boxes[other])?.area ?? 0
                let union = box.area + boxes[other].area - intersection
                return union > 0 && Float(intersection) / Float(union) > overlapThreshold
            }
            if !overlaps { kept.append(index) }
        }
        return kept
    }
}
