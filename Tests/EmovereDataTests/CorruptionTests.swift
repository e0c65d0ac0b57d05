import EmovereCore
import EmovereData
import EmovereTensor
import Foundation
import Testing

struct CorruptionTests {
    static let size = 48
    /// A face-like test card: a gradient with a bright disc and a dark bar (edges for blur and JPEG to act on).
    static let image: [Float] = (0..<size * size).map { index in
        let x = Float(index % size), y = Float(index / size)
        let disc: Float = (x - 24) * (x - 24) + (y - 20) * (y - 20) < 100 ? 90 : 0
        let bar: Float = y > 34 && y < 38 && x > 14 && x < 34 ? -60 : 0
        return 60 + 2 * x + y + disc + bar
    }

    static func corrupt(_ corruption: Corruption, severity: Float, seed: UInt64 = 1, image: [Float] = image) -> [Float] {
        var pixels = image
        var random = SplitMix64(seed: seed)
        pixels.withUnsafeMutableBufferPointer { corruption.apply(to: $0.baseAddress!, size: size, severity: severity, random: &random) }
        return pixels
    }

    @Test(arguments: Corruption.allCases)
    func severityZeroKeepsTheImageAndHigherSeveritiesChangeItMore(_ corruption: Corruption) {
        #expect(Self.corrupt(corruption, severity: 0) == Self.image)
        func distance(_ severity: Float) -> Float {
            zip(Self.corrupt(corruption, severity: severity), Self.image).map { abs($0 - $1) }.reduce(0, +)
        }
        let mild = distance(1), severe = distance(5)
        #expect(mild > 0, "\(corruption) at severity 1 left the image unchanged")
        #expect(severe > mild, "\(corruption): severity 5 changed \(severe), severity 1 \(mild)")
        for severity in Corruption.severities {
            let output = Self.corrupt(corruption, severity: Float(severity))
            #expect(output.allSatisfy { $0 >= 0 && $0 <= 255 }, "\(corruption) \(severity) left [0, 255]")
            #expect(output == Self.corrupt(corruption, severity: Float(severity)), "\(corruption) is not deterministic")
        }
    }

    @Test func strengthsFollowTheDocumentedTable() {
        #expect(Corruption.blur.strength(atSeverity: 3) == 1.5)
        #expect(Corruption.lowResolution.strength(atSeverity: 3) == 20)
        #expect(Corruption.noise.strength(atSeverity: 3) == 12)
        #expect(Corruption.jpeg.strength(atSeverity: 3) == 15)
        #expect(Corruption.dark.strength(atSeverity: 3) == 2 && Corruption.bright.strength(atSeverity: 3) == 0.5)
        #expect(Corruption.rotation.strength(atSeverity: 3) == 15)
        #expect(Corruption.tighterCrop.strength(atSeverity: 3) == 1.25 && Corruption.looserCrop.strength(atSeverity: 3) == 0.8)
        #expect(Corruption.blur.strength(atSeverity: 2.5) == 1.25)
        #expect(Corruption.blur.strength(atSeverity: 0.5) == 0.375)
        #expect(Corruption.jpeg.strength(atSeverity: 9) == 5)
    }

    @Test func blurKeepsAFlatImageFlatAndSmoothsAnEdge() {
        let flat = [Float](repeating: 100, count: Self.size * Self.size)
        #expect(Self.corrupt(.blur, severity: 4, image: flat).allSatisfy { abs($0 - 100) < 1e-3 })
        // A vertical step: after blurring, the two pixels beside the edge move toward each other.
        let step = (0..<Self.size * Self.size).map { Float($0 % Self.size < 24 ? 50 : 200) }
        let blurred = Self.corrupt(.blur, severity: 3, image: step)
        #expect(blurred[23] > 60 && blurred[24] < 190 && abs(blurred[0] - 50) < 1e-3)
    }

    @Test func occlusionsCoverTheirRegion() {
        let mouth = Self.corrupt(.mouthCovered, severity: 3)
        #expect(mouth[47 * Self.size + 24] == 128 && mouth[47 * Self.size + 2] == Self.image[47 * Self.size + 2])
        let eyes = Self.corrupt(.eyesCovered, severity: 3)
        #expect(eyes[18 * Self.size + 24] == 20 && eyes[40 * Self.size + 24] == Self.image[40 * Self.size + 24])
    }

    @Test func photometricAndGeometricCorruptionsAreTold() {
        #expect(Corruption.allCases.filter(\.isGeometric) == [.rotation, .tighterCrop, .looserCrop, .offCentre])
        #expect(Augmentation.Corruptions.camera.kinds.allSatisfy { !$0.isGeometric })
    }

    @Test func corruptedDatasetsAreSeededPerImage() {
        let bytes = Self.image.map { UInt8($0) }
        let dataset = FaceDataset(imageSize: Self.size, pixels: bytes + bytes.reversed() + bytes, labels: [0, 3, 6])
        let noisy = dataset.corrupted(by: .noise, severity: 3, seed: 7)
        #expect(noisy == dataset.corrupted(by: .noise, severity: 3, seed: 7))
        #expect(noisy != dataset.corrupted(by: .noise, severity: 3, seed: 8))
        #expect(noisy.labels == dataset.labels)
        // Images 0 and 2 are equal but get their own noise.
        #expect(noisy.image(at: 0) != noisy.image(at: 2))
        // Image 1 alone, as image 0 of a one-image dataset, would get image 0's noise: the stream is the index.
        let single = dataset.subset([0]).corrupted(by: .noise, severity: 3, seed: 7)
        #expect(single.image(at: 0) == noisy.image(at: 0))
        #expect(dataset.resized(to: 64).imageSize == 64 && dataset.resized(to: 64).count == 3)
    }

    @Test func trainingCorruptionsDrawTheSameNumberOfValues() {
        let bytes = Self.image.map { UInt8($0) }
        func run(_ augmentation: Augmentation) -> ([Float], UInt64) {
            var random = SplitMix64(seed: 5)
            var output = [Float](repeating: 0, count: Self.size * Self.size)
            bytes.withUnsafeBufferPointer { source in
                output.withUnsafeMutableBufferPointer { augmentation.apply(source: source.baseAddress!, size: Self.size, destination: $0.baseAddress!, random: &random) }
            }
            return (output, random.next())
        }
        let never = Augmentation(corruptions: .init(probability: 0, kinds: [.blur], maximumSeverity: 3))
        let always = Augmentation(corruptions: .init(probability: 1, kinds: [.blur], maximumSeverity: 3))
        let plain = run(.none), skipped = run(never), blurred = run(always)
        #expect(plain.0 == Self.image.map { Float(UInt8($0)) })
        #expect(skipped.0 == plain.0 && skipped.1 == plain.1)
        #expect(blurred.0 != plain.0 && blurred.1 == plain.1)
    }

    /// The geometric corruptions' geometry, read back through linear ramps (bilinear sampling reproduces a ramp
    /// exactly, so each output pixel tells which source point it sampled): at severity 3 `tighter-crop` samples the
    /// source at `c + (p - c) / 1.25` (the face 1.25 times larger), `looser-crop` at `c + (p - c) / 0.8`,
    /// `rotation` at the point turned 15 degrees one way or the other about the centre, and `off-centre` at
    /// `p - shift` with a shift of 6 pixels in one direction.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func geometricCorruptionsMoveThePixelsAsDocumented(seed: UInt64) throws {
        let centre = Float(Self.size - 1) / 2
        func sourcePoints(_ corruption: Corruption) -> [(x: Float, y: Float)] {
            let rampX: [Float] = (0..<Self.size * Self.size).map { Float(50 + 3 * ($0 % Self.size)) }
            let rampY: [Float] = (0..<Self.size * Self.size).map { Float(50 + 3 * ($0 / Self.size)) }
            let x = Self.corrupt(corruption, severity: 3, seed: seed, image: rampX)
            let y = Self.corrupt(corruption, severity: 3, seed: seed, image: rampY)
            return zip(x, y).map { (($0 - 50) / 3, ($1 - 50) / 3) }
        }
        /// Output pixels whose source point lies well inside the image (no border involved).
        func interior(_ points: [(x: Float, y: Float)]) -> [(x: Float, y: Float, source: (x: Float, y: Float))] {
            points.indices.compactMap { index in
                let point = points[index]
                guard point.x > 1, point.x < Float(Self.size) - 2, point.y > 1, point.y < Float(Self.size) - 2 else { return nil }
                return (Float(index % Self.size), Float(index / Self.size), point)
            }
        }
        for (corruption, zoom) in [(Corruption.tighterCrop, Float(1.25)), (.looserCrop, 0.8)] {
            let pixels = interior(sourcePoints(corruption))
            #expect(pixels.count > 300)
            for pixel in pixels {
                #expect(abs(pixel.source.x - (centre + (pixel.x - centre) / zoom)) < 1e-2
                        && abs(pixel.source.y - (centre + (pixel.y - centre) / zoom)) < 1e-2,
                        "\(corruption) at (\(pixel.x), \(pixel.y)) sampled \(pixel.source)")
            }
        }
        func radius(_ x: Float, _ y: Float) -> Float { hypotf(x - centre, y - centre) }
        let turned = interior(sourcePoints(.rotation)).filter { radius($0.x, $0.y) > 5 }
        let angles = turned.map { pixel in
            let output = atan2f(pixel.y - centre, pixel.x - centre)
            let source = atan2f(pixel.source.y - centre, pixel.source.x - centre)
            return remainderf(source - output, 2 * .pi) * 180 / .pi
        }
        let sense: Float = try #require(angles.first) > 0 ? 1 : -1
        #expect(turned.count > 300 && angles.allSatisfy { abs($0 - sense * 15) < 0.2 }, "\(angles.prefix(5))")
        #expect(turned.allSatisfy { abs(radius($0.source.x, $0.source.y) - radius($0.x, $0.y)) < 1e-2 })
        let shifted = interior(sourcePoints(.offCentre))
        let first = try #require(shifted.first)
        let shift = (first.x - first.source.x, first.y - first.source.y)
        #expect(abs(hypotf(shift.0, shift.1) - 6) < 1e-3, "\(shift)")
        #expect(shifted.allSatisfy { abs($0.x - $0.source.x - shift.0) < 1e-2 && abs($0.y - $0.source.y - shift.1) < 1e-2 })
    }
}
