import Foundation
import Testing
@testable import EmovereVision

/// Locations of the Haar detector fixtures (see Fixtures/README.md).
enum HaarFixtures {
    static var directory: String {
        (Bundle.module.resourceURL ?? Bundle.module.bundleURL).appendingPathComponent("Fixtures").path
    }

    static func path(_ name: String) -> String { directory + "/" + name }

    static var defaultCascadePath: String { path(HaarCascade.defaultFrontalFaceFileName) }

    static func defaultCascade() throws -> HaarCascade {
        try HaarCascade(contentsOf: defaultCascadePath)
    }

    /// Minimal valid cascade document: one 2x2 feature, one stump, one stage.
    static func tinyCascadeXML(features: String? = nil, internalNodes: String = "0 -1 0 5.0e-01",
                               leafValues: String = "-1. 1.", featureType: String = "HAAR") -> String {
        let featureBlock = features ?? "<_><rects><_>0 0 2 2 -1.</_><_>0 0 1 2 2.</_></rects></_>"
        return """
        <?xml version="1.0"?>
        <opencv_storage>
        <cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
          <featureType>\(featureType)</featureType>
          <height>4</height>
          <width>4</width>
          <stageParams><maxWeakCount>1</maxWeakCount></stageParams>
          <featureParams><maxCatCount>0</maxCatCount></featureParams>
          <stageNum>1</stageNum>
          <stages>
            <_>
              <maxWeakCount>1</maxWeakCount>
              <stageThreshold>-1.0</stageThreshold>
              <weakClassifiers>
                <_><internalNodes>\(internalNodes)</internalNodes><leafValues>\(leafValues)</leafValues></_>
              </weakClassifiers>
            </_>
          </stages>
          <features>\(featureBlock)</features>
        </cascade>
        </opencv_storage>
        """
    }

    static func parse(_ xml: String) throws(HaarCascadeError) -> HaarCascade {
        try HaarCascade(xmlBytes: Array(xml.utf8), source: "inline.xml")
    }
}

/// Deterministic pseudo-random bytes for synthetic images.
struct HaarTestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next() >> 56) }
}

@Suite("Haar cascade XML")
struct HaarCascadeTests {
    @Test("frontalface_default: 25 stages, 24x24 window, stumps")
    func parsesDefaultFrontalFace() throws {
        let cascade = try HaarFixtures.defaultCascade()
        #expect(cascade.stageCount == 25)
        #expect(cascade.windowWidth == 24)
        #expect(cascade.windowHeight == 24)
        #expect(cascade.isStumpBased)
        #expect(cascade.featureCount == 2_913)
        #expect(cascade.weakClassifierCount == 2_913)
        // First stage as written in the file: 9 stumps, threshold -5.0425500869750977 less OpenCV's 1e-5.
        let first = cascade.stages[0]
        #expect(first.trees.count == 9)
        #expect(first.threshold == Float(-5.0425500869750977) - Float(1e-5))
        #expect(first.trees[0].nodes[0] == HaarCascade.Node(featureIndex: 0, threshold: Float(-3.1511999666690826e-02),
                                                            left: 0, right: -1))
        #expect(first.trees[0].leaves == [Float(2.0875380039215088), Float(-2.2172100543975830)])
        #expect(cascade.features[0].rects == [
            HaarCascade.WeightedRect(x: 6, y: 4, width: 12, height: 9, weight: -1),
            HaarCascade.WeightedRect(x: 6, y: 7, width: 12, height: 3, weight: 3),
        ])
    }

    @Test("tree cascades (frontalface_alt2) parse when installed",
          .enabled(if: HaarCascade.locate(named: "haarcascade_frontalface_alt2.xml") != nil))
    func parsesTreeCascade() throws {
        let path = try #require(HaarCascade.locate(named: "haarcascade_frontalface_alt2.xml"))
        let cascade = try HaarCascade(contentsOf: path)
        #expect(cascade.stageCount == 20)
        #expect(cascade.windowWidth == 20 && cascade.windowHeight == 20)
        #expect(!cascade.isStumpBased)
    }

    @Test("a minimal hand-written cascade parses")
    func parsesTinyCascade() throws {
        let cascade = try HaarFixtures.parse(HaarFixtures.tinyCascadeXML())
        #expect(cascade.stageCount == 1 && cascade.featureCount == 1 && cascade.windowWidth == 4)
    }

    @Test("a missing file, a folder or a named pipe is refused naming the path, without blocking on the pipe")
    func missingFile() throws {
        func reason(_ path: String) -> String? {
            do {
                _ = try HaarCascade(contentsOf: path)
                return nil
            } catch {
                guard case let .unreadableFile(failedPath, reason) = error, failedPath == path else { return nil }
                return reason
            }
        }
        #expect(reason("/nonexistent/haarcascade.xml")?.contains("No such file") == true)
        #expect(reason("/tmp") == "expected a regular file, found a folder")
        let pipe = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-\(UUID().uuidString).xml").path
        #expect(mkfifo(pipe, 0o600) == 0)
        defer { try? FileManager.default.removeItem(atPath: pipe) }
        #expect(reason(pipe) == "expected a regular file, found a named pipe")
    }

    @Test("garbage and truncated XML are rejected with a line number")
    func malformedXML() throws {
        for garbage in ["", "not xml at all", "<opencv_storage><cascade>", "\u{0}\u{1}\u{2}binary",
                        "<a><b></a></b>", "<opencv_storage></opencv_storage> trailing"] {
            do {
                _ = try HaarFixtures.parse(garbage)
                Issue.record("expected an error for \(garbage.debugDescription)")
            } catch {
                guard case let .malformedXML(source, line, _) = error else {
                    Issue.record("expected malformed XML for \(garbage.debugDescription), found \(error)")
                    continue
                }
                #expect(source == "inline.xml" && line >= 1)
            }
        }
        // A truncated copy of the real cascade.
        let bytes = try #require(FileManager.default.contents(atPath: HaarFixtures.defaultCascadePath))
        let truncated = [UInt8](bytes.prefix(bytes.count / 2))
        #expect(throws: HaarCascadeError.self) { try HaarCascade(xmlBytes: truncated, source: "half.xml") }
    }

    @Test("structurally wrong cascades fail with expected-vs-received messages")
    func invalidCascades() {
        func expectInvalid(_ xml: String, mentioning fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try HaarFixtures.parse(xml)
                Issue.record("expected an error mentioning \(fragment)", sourceLocation: sourceLocation)
            } catch {
                #expect(error.description.contains(fragment), "\(error.description)", sourceLocation: sourceLocation)
            }
        }
        expectInvalid("<opencv_storage><cascade><stageType>BOOST</stageType></cascade></opencv_storage>",
                      mentioning: "featureType")
        expectInvalid(HaarFixtures.tinyCascadeXML(featureType: "LBP"), mentioning: "LBP")
        expectInvalid(HaarFixtures.tinyCascadeXML(featureType: "SURF"), mentioning: "expected HAAR")
        expectInvalid(HaarFixtures.tinyCascadeXML(internalNodes: "0 -1 7 0.5"), mentioning: "feature index")
        expectInvalid(HaarFixtures.tinyCascadeXML(internalNodes: "0 -1 0"), mentioning: "groups of 4")
        expectInvalid(HaarFixtures.tinyCascadeXML(internalNodes: "0 -1 0 abc"), mentioning: "finite number")
        expectInvalid(HaarFixtures.tinyCascadeXML(internalNodes: "1 -1 0 0.5 1 -2 0 0.5", leafValues: "1 2 3"),
                      mentioning: "child indices")
        // Values at Int's ends: the sums and negations checking them overflowed and trapped.
        expectInvalid(HaarFixtures.tinyCascadeXML(internalNodes: "-9223372036854775808 -1 0 0.5"),
                      mentioning: "child indices")
        for rectangle in ["1 0 9223372036854775807 1 -1.", "0 2 1 9223372036854775807 -1.", "3 3 2 2 -1."] {
            expectInvalid(HaarFixtures.tinyCascadeXML(features: "<_><rects><_>\(rectangle)</_></rects></_>"),
                          mentioning: "inside the 4x4 window")
        }
        expectInvalid(HaarFixtures.tinyCascadeXML(leafValues: "1."), mentioning: "2 leaf values")
        expectInvalid(HaarFixtures.tinyCascadeXML(features: "<_><rects><_>0 0 2 -1.</_></rects></_>"),
                      mentioning: "x y width height weight")
        expectInvalid(HaarFixtures.tinyCascadeXML(features: "<_><rects><_>0 0 2 2 -1.</_></rects><tilted>1</tilted></_>"),
                      mentioning: "tilted")
        expectInvalid("""
            <opencv_storage><haarcascade_frontalface type_id="opencv-haar-classifier"><size>24 24</size>
            </haarcascade_frontalface></opencv_storage>
            """, mentioning: "old-format")
    }

    @Test("standard search paths find the default cascade when opencv-data is installed")
    func searchPaths() {
        #expect(HaarCascade.standardSearchPaths.contains("/usr/share/opencv4/haarcascades"))
        #expect(HaarCascade.locate(named: "no-such-cascade.xml") == nil)
        #expect(HaarCascade.locate(in: [HaarFixtures.directory]) == HaarFixtures.defaultCascadePath)
    }
}

@Suite("Integral image")
struct HaarIntegralImageTests {
    /// Naive twin: every entry summed from scratch in 64-bit.
    static func naive(_ image: GrayImage) -> (sums: [Int64], squares: [Int64]) {
        let stride = image.width + 1
        var sums = [Int64](repeating: 0, count: stride * (image.height + 1))
        var squares = sums
        for y in 0...image.height {
            for x in 0...image.width {
                var sum: Int64 = 0, square: Int64 = 0
                for yy in 0..<y {
                    for xx in 0..<x {
                        let value = Int64(image[xx, yy])
                        sum += value
                        square += value * value
                    }
                }
                sums[y * stride + x] = sum
                squares[y * stride + x] = square
            }
        }
        return (sums, squares)
    }

    @Test("matches a naive summed-area table", arguments: [(1, 1), (7, 5), (31, 17), (64, 3)])
    func matchesNaive(width: Int, height: Int) {
        var random = HaarTestRandom(state: UInt64(width * 1_000 + height))
        let image = GrayImage(width: width, height: height, pixels: (0..<(width * height)).map { _ in random.byte() })
        let integral = IntegralImage(image)
        let reference = Self.naive(image)
        #expect(integral.sums.map(Int64.init) == reference.sums)
        #expect(integral.squareSums.map(Int64.init) == reference.squares)
    }

    @Test("rectangle differences stay exact when absolute sums wrap 32 bits")
    func wrapsLikeOpenCV() {
        let image = GrayImage(width: 300, height: 300, value: 255) // total of squares 5.85e9 > 2^32
        let integral = IntegralImage(image)
        let stride = 301
        let (x, y, w, h) = (250, 250, 22, 22)
        let a = y * stride + x, b = a + w, c = a + h * stride, d = c + w
        let squares = integral.squareSums[a] &- integral.squareSums[b] &- integral.squareSums[c] &+ integral.squareSums[d]
        let sums = integral.sums[a] &- integral.sums[b] &- integral.sums[c] &+ integral.sums[d]
        #expect(squares == UInt32(22 * 22 * 255 * 255))
        #expect(sums == Int32(22 * 22 * 255))
    }
}
