import Dispatch
import EmovereCore
import Foundation

/// Why a face detection request was rejected.
public enum FaceDetectorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A detection parameter is out of range.
    case invalidParameter(name: String, expected: String, received: String)

    /// A one-line message naming the parameter, the accepted range and the received value.
    public var description: String {
        switch self {
        case let .invalidParameter(name, expected, received):
            return "Invalid face detection parameter \(name): expected \(expected), received \(received)"
        }
    }
}

/// Viola-Jones face detection with an OpenCV Haar cascade, reproducing OpenCV 4's
/// `CascadeClassifier::detectMultiScale(image, scaleFactor, minNeighbors, 0, minSize, maxSize)` (the CPU path):
///
/// 1. Scales `1, f, f^2, ...` (double products stored as `Float`) while the window `round(24 * scale)` fits the
///    image, filtered by the minimum and maximum sizes.
/// 2. For each scale the image is shrunk to `round(width / scale) x round(height / scale)` with OpenCV's bit-exact
///    bilinear resize (see ``HaarPyramidResize``), its integral and squared integral are taken, and the window slides
///    with a step of 2 pixels (1 pixel once the scale reaches 2); a window rejected by the first stage also skips the
///    next column.
/// 3. Accepted windows map back to `(round(x * scale), round(y * scale), round(24 * scale), round(24 * scale))` and are
///    merged by `groupRectangles(boxes, minNeighbors, 0.2)`, then clipped to the image.
///
/// Windows are evaluated on all cores; the output order is deterministic (cluster order of the raw candidates sorted by
/// scale, then row, then column).
public struct FaceDetector: Sendable {
    /// Search settings, named after OpenCV's `detectMultiScale` arguments.
    public struct DetectionParameters: Sendable, Equatable {
        /// How much the search window grows between pyramid levels; in `[1.001, 100]`. OpenCV's `scaleFactor`.
        public let scaleFactor: Double
        /// Raw detections a cluster needs beyond the first to be reported; 0 returns every raw window
        /// (no grouping). OpenCV's `minNeighbors`.
        public let minimumNeighbors: Int
        /// Smallest face size searched, in pixels; `nil` means no limit. OpenCV's `minSize`.
        public let minimumSize: WindowSize?
        /// Largest face size searched, in pixels; `nil` means the image size. OpenCV's `maxSize`.
        public let maximumSize: WindowSize?

        /// Validated parameters; the scale factor and neighbour count left out are ``faceClassification``'s.
        /// - Throws: ``FaceDetectorError/invalidParameter(name:expected:received:)`` for a scale factor outside
        ///   `[1.001, 100]` (OpenCV accepts anything above 1, but factors closer to 1 create thousands of levels), a
        ///   negative neighbour count or negative sizes.
        public init(scaleFactor: Double = faceClassification.scaleFactor,
                    minimumNeighbors: Int = faceClassification.minimumNeighbors, minimumSize: WindowSize? = nil,
                    maximumSize: WindowSize? = nil) throws(FaceDetectorError) {
            guard scaleFactor.isFinite, scaleFactor >= 1.001, scaleFactor <= 100 else {
                throw .invalidParameter(name: "scaleFactor", expected: "a value from 1.001 to 100", received: "\(scaleFactor)")
            }
            guard minimumNeighbors >= 0 else {
                throw .invalidParameter(name: "minimumNeighbors", expected: "0 or more", received: "\(minimumNeighbors)")
            }
            for (name, size) in [("minimumSize", minimumSize), ("maximumSize", maximumSize)] {
                if let size, size.width < 0 || size.height < 0 {
                    throw .invalidParameter(name: name, expected: "a non-negative width and height",
                                            received: "\(size.width)x\(size.height)")
                }
            }
            self.init(unchecked: scaleFactor, minimumNeighbors, minimumSize, maximumSize)
        }

        private init(unchecked scaleFactor: Double, _ minimumNeighbors: Int, _ minimumSize: WindowSize?,
                     _ maximumSize: WindowSize?) {
            self.scaleFactor = scaleFactor
            self.minimumNeighbors = minimumNeighbors
            self.minimumSize = minimumSize
            self.maximumSize = maximumSize
        }

        /// The settings of the face_classification demos: `detectMultiScale(gray, 1.3, 5)`.
        public static let faceClassification = DetectionParameters(unchecked: 1.3, 5, nil, nil)
        /// OpenCV's own defaults: scale factor 1.1, 3 neighbours.
        public static let openCVDefaults = DetectionParameters(unchecked: 1.1, 3, nil, nil)
    }

    /// A width and height in pixels.
    public struct WindowSize: Sendable, Hashable {
        /// Width in pixels.
        public var width: Int
        /// Height in pixels.
        public var height: Int
        /// Creates a size in pixels.
        public init(width: Int, height: Int) {
            self.width = width
            self.height = height
        }
    }

    /// The cascade that classifies each window.
    public let cascade: HaarCascade
    /// How many threads one detection may use (at least 1). 1 runs everything on the calling thread; larger values
    /// split each pyramid level into `8 * concurrency` row bands run on at most `concurrency` of Emovere's workers
    /// (`Parallel.forEach`; a pool busy with other work runs them on the calling thread).
    public let concurrency: Int

    /// A detector for `cascade`, using `concurrency` threads (default: `Parallel.workerCount`, which `EMOVERE_THREADS` sets).
    public init(cascade: HaarCascade, concurrency: Int = Parallel.workerCount) {
        self.cascade = cascade
        self.concurrency = max(1, concurrency)
    }

    /// A detector for the cascade file at `cascadePath`.
    /// - Throws: ``HaarCascadeError`` when the file cannot be loaded.
    public init(cascadePath: String, concurrency: Int = Parallel.workerCount) throws(HaarCascadeError) {
        self.init(cascade: try HaarCascade(contentsOf: cascadePath), concurrency: concurrency)
    }

    /// A detector for OpenCV's `haarcascade_frontalface_default.xml`, found in ``HaarCascade/standardSearchPaths``
    /// (install it with `apt-get install opencv-data`).
    /// - Throws: ``HaarCascadeError/unreadableFile(path:reason:)`` listing the directories searched when the file is
    ///   not found, or any error from loading it.
    public static func defaultFrontalFace(concurrency: Int = Parallel.workerCount)
        throws(HaarCascadeError) -> FaceDetector {
        guard let path = HaarCascade.locate() else {
            throw .unreadableFile(path: HaarCascade.defaultFrontalFaceFileName,
                                  reason: "not found in \(HaarCascade.standardSearchPaths.joined(separator: ", ")) "
                                      + "(install the opencv-data package or pass the cascade path)")
        }
        return try FaceDetector(cascadePath: path, concurrency: concurrency)
    }

    /// Faces in `image`, as boxes in its pixel coordinates (origin top-left), clipped to the image.
    /// Returns an empty array for images smaller than the cascade window.
    public func detect(in image: GrayImage, parameters: DetectionParameters = .faceClassification) -> [Rect] {
        detectWithNeighborCounts(in: image, parameters: parameters).map(\.box)
    }

    /// Faces with the number of raw windows merged into each (a rough confidence; OpenCV's `numDetections`).
    public func detectWithNeighborCounts(in image: GrayImage, parameters: DetectionParameters = .faceClassification)
        -> [(box: Rect, neighbors: Int)] {
        let raw = candidates(in: image, parameters: parameters)
        let grouped = HaarGrouping.group(raw, groupThreshold: parameters.minimumNeighbors, eps: 0.2)
        // OpenCV's clipObjects: intersect with the image frame and drop boxes that end up empty.
        return grouped.compactMap { entry in
            let clipped = entry.box.clamped(toWidth: image.width, height: image.height)
            return clipped.isEmpty ? nil : (clipped, entry.neighbors)
        }
    }

    /// Every window accepted by the cascade before grouping, sorted by scale, then row, then column.
    public func candidates(in image: GrayImage, parameters: DetectionParameters = .faceClassification) -> [Rect] {
        let scales = pyramidScales(imageWidth: image.width, imageHeight: image.height, parameters: parameters)
        guard !scales.isEmpty else { return [] }
        let windowWidth = cascade.windowWidth, windowHeight = cascade.windowHeight

        // Buffers sized for the largest level, reused for every scale (like OpenCV's shared sum buffer).
        let first = levelSize(imageWidth: image.width, imageHeight: image.height, scale: scales[0])
        let levelStride = max(first.width, 1)
        let stride = levelStride + 1
        let level = UnsafeMutablePointer<UInt8>.allocate(capacity: levelStride * max(first.height, 1))
        let sums = UnsafeMutablePointer<Int32>.allocate(capacity: stride * (first.height + 1))
        let squares = UnsafeMutablePointer<UInt32>.allocate(capacity: stride * (first.height + 1))
        defer {
            level.deallocate()
            sums.deallocate()
            squares.deallocate()
        }
        let evaluator = HaarEvaluator(cascade: cascade, stride: stride)
        var found: [Rect] = []

        image.pixels.withUnsafeBufferPointer { pixelBuffer in
            guard let pixels = pixelBuffer.baseAddress else { return }
            for scale in scales {
                let size = levelSize(imageWidth: image.width, imageHeight: image.height, scale: scale)
                guard size.width <= levelStride, size.height <= first.height else { continue }
                HaarPyramidResize.resize(source: pixels, sourceWidth: image.width, sourceHeight: image.height,
                                         sourceStride: image.width, destination: level, destinationWidth: size.width,
                                         destinationHeight: size.height, destinationStride: levelStride,
                                         concurrency: concurrency)
                IntegralImage.compute(source: level, width: size.width, height: size.height, sourceStride: levelStride,
                                      sums: sums, squareSums: squares, stride: stride)
                let workingWidth = max(size.width + 1 - windowWidth, 0)
                let workingHeight = max(size.height + 1 - windowHeight, 0)
                let step = scale >= 2 ? 1 : 2
                let rowCount = (workingHeight + step - 1) / step
                guard rowCount > 0, workingWidth > 0 else { continue }
                let boxWidth = Int((Float(windowWidth) * scale).rounded(.toNearestOrEven))
                let boxHeight = Int((Float(windowHeight) * scale).rounded(.toNearestOrEven))

                let chunkCount = min(rowCount, concurrency == 1 ? 1 : concurrency * 8)
                var perChunk = [[Rect]](repeating: [], count: chunkCount)
                perChunk.withUnsafeMutableBufferPointer { chunkResults in
                    let shared = UnsafeSendable((sums: sums, squares: squares, results: chunkResults))
                    let work: @Sendable (Int) -> Void = { chunk in
                        let firstRow = chunk * rowCount / chunkCount
                        let endRow = (chunk + 1) * rowCount / chunkCount
                        var hits: [Rect] = []
                        evaluator.scan(sums: shared.value.sums, squareSums: shared.value.squares, stride: stride,
                                       rows: Swift.stride(from: firstRow * step, to: endRow * step, by: step),
                                       workingWidth: workingWidth, step: step) { x, y in
                            hits.append(Rect(x: Int((Float(x) * scale).rounded(.toNearestOrEven)),
                                                y: Int((Float(y) * scale).rounded(.toNearestOrEven)),
                                                width: boxWidth, height: boxHeight))
                        }
                        shared.value.results[chunk] = hits
                    }
                    Parallel.forEach(chunkCount, threads: concurrency, work)
                }
                for hits in perChunk { found.append(contentsOf: hits) }
            }
        }
        return found
    }

    /// OpenCV's level size for `scale`: `cvRound(width / scale)` computed in single precision.
    private func levelSize(imageWidth: Int, imageHeight: Int, scale: Float) -> WindowSize {
        WindowSize(width: Int((Float(imageWidth) / scale).rounded(.toNearestOrEven)),
                   height: Int((Float(imageHeight) / scale).rounded(.toNearestOrEven)))
    }

    /// The pyramid scales OpenCV searches for these parameters (`detectMultiScaleNoGrouping`).
    func pyramidScales(imageWidth: Int, imageHeight: Int, parameters: DetectionParameters) -> [Float] {
        let windowWidth = cascade.windowWidth, windowHeight = cascade.windowHeight
        guard imageWidth >= windowWidth, imageHeight >= windowHeight else { return [] }
        var maximum = parameters.maximumSize ?? WindowSize(width: 0, height: 0)
        if maximum.width == 0 || maximum.height == 0 {
            maximum = WindowSize(width: imageWidth, height: imageHeight)
        }
        let minimum = parameters.minimumSize ?? WindowSize(width: 0, height: 0)

        var all: [Float] = []
        var factor = 1.0
        while true {
            let width = (Double(windowWidth) * factor).rounded(.toNearestOrEven)
            let height = (Double(windowHeight) * factor).rounded(.toNearestOrEven)
            if width > Double(imageWidth) || height > Double(imageHeight) { break }
            all.append(Float(factor))
            factor *= parameters.scaleFactor
        }
        func window(_ scale: Float) -> WindowSize {
            WindowSize(width: Int((Float(windowWidth) * scale).rounded(.toNearestOrEven)),
                       height: Int((Float(windowHeight) * scale).rounded(.toNearestOrEven)))
        }
        var scales: [Float] = []
        for scale in all {
            let size = window(scale)
            if size.width > maximum.width || size.height > maximum.height { break }
            if size.width < minimum.width || size.height < minimum.height { continue }
            scales.append(scale)
        }
        // OpenCV: when no level fits (e.g. minSize == maxSize between levels) use the level closest to minSize.
        if scales.isEmpty, !all.isEmpty {
            var best = 0
            var bestDistance = Double.infinity
            for (index, scale) in all.enumerated() {
                let size = window(scale)
                let dx = Double(minimum.width - size.width), dy = Double(minimum.height - size.height)
                let distance = dx * dx + dy * dy
                if distance < bestDistance {
                    bestDistance = distance
                    best = index
                }
            }
            scales.append(all[best])
        }
        return scales
    }
}
