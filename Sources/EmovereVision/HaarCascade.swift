import Foundation
import EmovereCore

/// Why a Haar cascade file could not be loaded. Every case names the file (or the source label given to
/// ``HaarCascade/init(xmlBytes:source:)``) so the message stands on its own.
public enum HaarCascadeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read (missing, a directory, no permission, ...).
    case unreadableFile(path: String, reason: String)
    /// The bytes are not well-formed XML.
    case malformedXML(source: String, line: Int, reason: String)
    /// A required element is missing; `element` is its path in the document, e.g. `cascade/stages/_[3]/stageThreshold`.
    case missingElement(source: String, element: String)
    /// An element holds a value of the wrong kind or out of range.
    case invalidValue(source: String, element: String, expected: String, received: String)
    /// The cascade is valid OpenCV but uses something this implementation does not evaluate.
    case unsupported(source: String, feature: String)

    /// A one-line message naming the file, what was expected and what was found.
    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "Cannot read Haar cascade file '\(path)': \(reason)"
        case let .malformedXML(source, line, reason):
            return "Haar cascade '\(source)' is not well-formed XML (line \(line)): \(reason)"
        case let .missingElement(source, element):
            return "Haar cascade '\(source)' has no <\(element)> element; expected an OpenCV cascade written by opencv_traincascade"
        case let .invalidValue(source, element, expected, received):
            return "Haar cascade '\(source)': <\(element)> expected \(expected), received \(received)"
        case let .unsupported(source, feature):
            return "Haar cascade '\(source)' is not supported: \(feature)"
        }
    }
}

/// A boosted cascade of Haar-like features read from an OpenCV cascade XML file (the format written by
/// `opencv_traincascade`, for example `haarcascade_frontalface_default.xml`).
///
/// Both stump-based cascades (one split per weak classifier, such as `frontalface_default` and `frontalface_alt`)
/// and tree-based cascades (such as `frontalface_alt2`) are supported. Tilted (45 degree) features, LBP/HOG feature
/// types and the pre-2.0 "old format" are rejected with ``HaarCascadeError/unsupported(source:feature:)``.
///
/// Feature rectangles are in the coordinate system of the training window: origin at the window's top-left corner,
/// x to the right, y down, in pixels, `0 <= x`, `x + width <= windowWidth` (likewise for y).
public struct HaarCascade: Sendable {
    /// One rectangle of a Haar-like feature, in training-window pixels.
    struct WeightedRect: Sendable, Equatable {
        var x: Int, y: Int, width: Int, height: Int
        var weight: Float
    }

    /// A Haar-like feature: a weighted sum of up to three rectangle sums.
    struct Feature: Sendable, Equatable {
        var rects: [WeightedRect]
    }

    /// A split node: go `left` when `featureValue < threshold`, else `right`. Child values `> 0` index nodes of the
    /// same tree; values `<= 0` name leaf `-value`.
    struct Node: Sendable, Equatable {
        var featureIndex: Int
        var threshold: Float
        var left: Int
        var right: Int
    }

    /// A weak classifier: `nodes` (root first) and `leaves` (`nodes.count + 1` values for a binary tree).
    struct Tree: Sendable, Equatable {
        var nodes: [Node]
        var leaves: [Float]
    }

    /// A boosted stage: the window passes when the sum of its trees' leaves is at least `threshold`.
    struct Stage: Sendable, Equatable {
        /// The XML `stageThreshold` minus OpenCV's `1e-5` tolerance, in single precision as OpenCV stores it.
        var threshold: Float
        var trees: [Tree]
    }

    /// Width of the training window in pixels (24 for `haarcascade_frontalface_default.xml`).
    public let windowWidth: Int
    /// Height of the training window in pixels (24 for `haarcascade_frontalface_default.xml`).
    public let windowHeight: Int
    /// The file or label the cascade was read from, used in messages.
    public let source: String

    let stages: [Stage]
    let features: [Feature]

    /// Number of boosted stages (25 for `haarcascade_frontalface_default.xml`).
    public var stageCount: Int { stages.count }
    /// Number of distinct Haar-like features referenced by the cascade.
    public var featureCount: Int { features.count }
    /// Total number of weak classifiers over all stages.
    public var weakClassifierCount: Int { stages.reduce(0) { $0 + $1.trees.count } }
    /// `true` when every weak classifier is a single split (a decision stump).
    public var isStumpBased: Bool { stages.allSatisfy { $0.trees.allSatisfy { $0.nodes.count == 1 } } }

    /// Directories searched by ``locate(named:in:)``: where Debian/Ubuntu's `opencv-data` package and a
    /// from-source OpenCV install put the stock cascades.
    public static let standardSearchPaths: [String] = [
        "/usr/share/opencv4/haarcascades",
        "/usr/share/opencv/haarcascades",
        "/usr/local/share/opencv4/haarcascades",
        "/usr/local/share/opencv/haarcascades",
    ]

    /// File name of OpenCV's default frontal-face cascade.
    public static let defaultFrontalFaceFileName = "haarcascade_frontalface_default.xml"

    /// Returns the full path of the first readable file called `fileName` in `directories`, or `nil`.
    public static func locate(named fileName: String = defaultFrontalFaceFileName,
                              in directories: [String] = standardSearchPaths) -> String? {
        for directory in directories {
            let path = directory.hasSuffix("/") ? directory + fileName : directory + "/" + fileName
            if FileManager.default.isReadableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Reads a cascade from an OpenCV cascade XML file.
    /// - Throws: ``HaarCascadeError`` naming `path` when the file is unreadable, not XML, or not a supported cascade.
    public init(contentsOf path: String) throws(HaarCascadeError) {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.bytes(atPath: path, maximumBytes: FileContents.largestDocumentBytes)
        } catch {
            throw .unreadableFile(path: path, reason: error.reason)
        }
        try self.init(xmlBytes: bytes, source: path)
    }

    /// Reads a cascade from the bytes of an OpenCV cascade XML document.
    /// - Parameter source: a label (usually the file path) used in error messages and ``source``.
    /// - Throws: ``HaarCascadeError`` when the bytes are not XML or not a supported cascade.
    public init(xmlBytes: [UInt8], source: String) throws(HaarCascadeError) {
        let root: HaarXMLElement
        do {
            root = try HaarXMLReader.parse(xmlBytes)
        } catch {
            throw .malformedXML(source: source, line: error.line, reason: error.message)
        }
        let reader = CascadeReader(source: source)
        let parsed = try reader.read(root: root)
        self.windowWidth = parsed.windowWidth
        self.windowHeight = parsed.windowHeight
        self.stages = parsed.stages
        self.features = parsed.features
        self.source = source
    }
}

/// Turns the element tree of an OpenCV cascade document into a validated ``HaarCascade`` description.
private struct CascadeReader {
    let source: String

    struct Parsed {
        var windowWidth: Int
        var windowHeight: Int
        var stages: [HaarCascade.Stage]
        var features: [HaarCascade.Feature]
    }

    /// OpenCV subtracts this from every stage threshold to absorb rounding (`THRESHOLD_EPS`).
    static let thresholdEpsilon: Float = 1e-5

    func require(_ element: HaarXMLElement, _ name: String, path: String) throws(HaarCascadeError) -> HaarXMLElement {
        guard let child = element.child(name) else {
            throw .missingElement(source: source, element: path + "/" + name)
        }
        return child
    }

    func tokens(_ element: HaarXMLElement) -> [Substring] {
        element.text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" })
    }

    func integer(_ element: HaarXMLElement, path: String) throws(HaarCascadeError) -> Int {
        let parts = tokens(element)
        guard parts.count == 1, let value = Int(parts[0]) else {
            throw .invalidValue(source: source, element: path, expected: "one integer", received: describe(element.text))
        }
        return value
    }

    /// Parses a real the way OpenCV's FileStorage does: to `Double` first, then narrowed to `Float` by the caller.
    func real(_ token: Substring, path: String) throws(HaarCascadeError) -> Double {
        guard let value = Double(token), value.isFinite else {
            throw .invalidValue(source: source, element: path, expected: "a finite number", received: describe(String(token)))
        }
        return value
    }

    func describe(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return "nothing" }
        return trimmed.count > 60 ? "'\(trimmed.prefix(60))...'" : "'\(trimmed)'"
    }

    func read(root: HaarXMLElement) throws(HaarCascadeError) -> Parsed {
        guard root.name == "opencv_storage" else {
            throw .invalidValue(source: source, element: "root element", expected: "<opencv_storage>",
                                received: "<\(root.name)>")
        }
        guard let cascade = root.children.first else {
            throw .missingElement(source: source, element: "opencv_storage/cascade")
        }
        let top = cascade.name
        if cascade.attributes["type_id"] == "opencv-haar-classifier" || cascade.child("stageType") == nil && cascade.child("size") != nil {
            throw .unsupported(source: source, feature: "old-format cascade (type_id=\"opencv-haar-classifier\"); "
                               + "expected the opencv_traincascade format with <stageType>, <featureType> and <features>")
        }

        let stageType = tokens(try require(cascade, "stageType", path: top)).joined()
        guard stageType == "BOOST" else {
            throw .invalidValue(source: source, element: top + "/stageType", expected: "BOOST", received: describe(stageType))
        }
        let featureType = tokens(try require(cascade, "featureType", path: top)).joined()
        switch featureType {
        case "HAAR": break
        case "LBP", "HOG":
            throw .unsupported(source: source, feature: "featureType \(featureType); only HAAR cascades are evaluated")
        default:
            throw .invalidValue(source: source, element: top + "/featureType", expected: "HAAR", received: describe(featureType))
        }

        let width = try integer(try require(cascade, "width", path: top), path: top + "/width")
        let height = try integer(try require(cascade, "height", path: top), path: top + "/height")
        guard (1...4096).contains(width), (1...4096).contains(height) else {
            throw .invalidValue(source: source, element: top + "/width, height", expected: "a window size from 1x1 to 4096x4096",
                                received: "\(width)x\(height)")
        }

        let featureParams = try require(cascade, "featureParams", path: top)
        let categories = try integer(try require(featureParams, "maxCatCount", path: top + "/featureParams"),
                                     path: top + "/featureParams/maxCatCount")
        guard categories == 0 else {
            throw .invalidValue(source: source, element: top + "/featureParams/maxCatCount",
                                expected: "0 (ordered HAAR features)", received: "\(categories)")
        }

        let features = try readFeatures(try require(cascade, "features", path: top), path: top + "/features",
                                        windowWidth: width, windowHeight: height)
        let stages = try readStages(try require(cascade, "stages", path: top), path: top + "/stages",
                                    featureCount: features.count)
        if let declared = cascade.child("stageNum") {
            let count = try integer(declared, path: top + "/stageNum")
            guard count == stages.count else {
                throw .invalidValue(source: source, element: top + "/stageNum",
                                    expected: "the number of <stages> entries (\(stages.count))", received: "\(count)")
            }
        }
        return Parsed(windowWidth: width, windowHeight: height, stages: stages, features: features)
    }

    func readFeatures(_ list: HaarXMLElement, path: String, windowWidth: Int, windowHeight: Int)
        throws(HaarCascadeError) -> [HaarCascade.Feature] {
        guard !list.children.isEmpty else {
            throw .invalidValue(source: source, element: path, expected: "at least one feature", received: "none")
        }
        var features: [HaarCascade.Feature] = []
        features.reserveCapacity(list.children.count)
        for (featureIndex, item) in list.children.enumerated() {
            let itemPath = "\(path)/_[\(featureIndex)]"
            if let tilted = item.child("tilted") {
                let flag = try integer(tilted, path: itemPath + "/tilted")
                if flag != 0 {
                    throw .unsupported(source: source, feature: "tilted (45 degree) Haar features, first at \(itemPath) "
                                       + "(line \(item.line)); the frontalface cascades have none")
                }
            }
            let rectsElement = try require(item, "rects", path: itemPath)
            guard (1...3).contains(rectsElement.children.count) else {
                throw .invalidValue(source: source, element: itemPath + "/rects", expected: "1 to 3 rectangles",
                                    received: "\(rectsElement.children.count)")
            }
            var rects: [HaarCascade.WeightedRect] = []
            for (rectIndex, rectElement) in rectsElement.children.enumerated() {
                let rectPath = "\(itemPath)/rects/_[\(rectIndex)]"
                let parts = tokens(rectElement)
                guard parts.count == 5, let x = Int(parts[0]), let y = Int(parts[1]),
                      let w = Int(parts[2]), let h = Int(parts[3]) else {
                    throw .invalidValue(source: source, element: rectPath, expected: "'x y width height weight' (4 integers and a real)",
                                        received: describe(rectElement.text))
                }
                let weight = Float(try real(parts[4], path: rectPath))
                guard x >= 0, y >= 0, w >= 0, h >= 0, x < windowWidth, y < windowHeight,
                      w <= windowWidth - x, h <= windowHeight - y else {
                    throw .invalidValue(source: source, element: rectPath,
                                        expected: "a rectangle inside the \(windowWidth)x\(windowHeight) window",
                                        received: "x \(x), y \(y), width \(w), height \(h)")
                }
                rects.append(HaarCascade.WeightedRect(x: x, y: y, width: w, height: h, weight: weight))
            }
            features.append(HaarCascade.Feature(rects: rects))
        }
        return features
    }

    func readStages(_ list: HaarXMLElement, path: String, featureCount: Int) throws(HaarCascadeError) -> [HaarCascade.Stage] {
        guard !list.children.isEmpty else {
            throw .invalidValue(source: source, element: path, expected: "at least one stage", received: "none")
        }
        var stages: [HaarCascade.Stage] = []
        stages.reserveCapacity(list.children.count)
        for (stageIndex, item) in list.children.enumerated() {
            let stagePath = "\(path)/_[\(stageIndex)]"
            let thresholdElement = try require(item, "stageThreshold", path: stagePath)
            let thresholdParts = tokens(thresholdElement)
            guard thresholdParts.count == 1 else {
                throw .invalidValue(source: source, element: stagePath + "/stageThreshold", expected: "one real",
                                    received: describe(thresholdElement.text))
            }
            let threshold = Float(try real(thresholdParts[0], path: stagePath + "/stageThreshold")) - Self.thresholdEpsilon
            let weakList = try require(item, "weakClassifiers", path: stagePath)
            guard !weakList.children.isEmpty else {
                throw .invalidValue(source: source, element: stagePath + "/weakClassifiers",
                                    expected: "at least one weak classifier", received: "none")
            }
            var trees: [HaarCascade.Tree] = []
            trees.reserveCapacity(weakList.children.count)
            for (treeIndex, weak) in weakList.children.enumerated() {
                let treePath = "\(stagePath)/weakClassifiers/_[\(treeIndex)]"
                trees.append(try readTree(weak, path: treePath, featureCount: featureCount))
            }
            if let declared = item.child("maxWeakCount") {
                let count = try integer(declared, path: stagePath + "/maxWeakCount")
                guard count == trees.count else {
                    throw .invalidValue(source: source, element: stagePath + "/maxWeakCount",
                                        expected: "the number of weak classifiers (\(trees.count))", received: "\(count)")
                }
            }
            stages.append(HaarCascade.Stage(threshold: threshold, trees: trees))
        }
        return stages
    }

    func readTree(_ weak: HaarXMLElement, path: String, featureCount: Int) throws(HaarCascadeError) -> HaarCascade.Tree {
        let nodesElement = try require(weak, "internalNodes", path: path)
        let leavesElement = try require(weak, "leafValues", path: path)
        let nodeTokens = tokens(nodesElement)
        guard !nodeTokens.isEmpty, nodeTokens.count % 4 == 0 else {
            throw .invalidValue(source: source, element: path + "/internalNodes",
                                expected: "groups of 4 values 'left right featureIndex threshold'",
                                received: "\(nodeTokens.count) values")
        }
        let nodeCount = nodeTokens.count / 4
        let leafTokens = tokens(leavesElement)
        guard leafTokens.count == nodeCount + 1 else {
            throw .invalidValue(source: source, element: path + "/leafValues",
                                expected: "\(nodeCount + 1) leaf values for \(nodeCount) split node(s)",
                                received: "\(leafTokens.count) values")
        }
        var leaves: [Float] = []
        leaves.reserveCapacity(leafTokens.count)
        for token in leafTokens {
            leaves.append(Float(try real(token, path: path + "/leafValues")))
        }
        var nodes: [HaarCascade.Node] = []
        nodes.reserveCapacity(nodeCount)
        for nodeIndex in 0..<nodeCount {
            let base = nodeIndex * 4
            guard let left = Int(nodeTokens[base]), let right = Int(nodeTokens[base + 1]),
                  let featureIndex = Int(nodeTokens[base + 2]) else {
                throw .invalidValue(source: source, element: path + "/internalNodes",
                                    expected: "integers for left, right and featureIndex",
                                    received: "'\(nodeTokens[base]) \(nodeTokens[base + 1]) \(nodeTokens[base + 2])'")
            }
            let threshold = Float(try real(nodeTokens[base + 3], path: path + "/internalNodes"))
            guard (0..<featureCount).contains(featureIndex) else {
                throw .invalidValue(source: source, element: path + "/internalNodes",
                                    expected: "a feature index in 0..<\(featureCount)", received: "\(featureIndex)")
            }
            for child in [left, right] {
                // Children must point forward (guarantees termination) or at an existing leaf.
                let valid = child > 0 ? (child > nodeIndex && child < nodeCount) : (child > -leaves.count)
                guard valid else {
                    throw .invalidValue(source: source, element: path + "/internalNodes",
                                        expected: "child indices that name a later node (1..<\(nodeCount)) or a leaf (0 to -\(nodeCount))",
                                        received: "\(child) in node \(nodeIndex)")
                }
            }
            nodes.append(HaarCascade.Node(featureIndex: featureIndex, threshold: threshold, left: left, right: right))
        }
        return HaarCascade.Tree(nodes: nodes, leaves: leaves)
    }
}
