import Testing
import EmovereData
import EmovereTensor

struct AugmentationTests {
    static let size = 12
    static let image: [UInt8] = (0..<size * size).map { UInt8(($0 * 13 + ($0 / size) * 7) % 256) }

    static func run(_ augmentation: Augmentation, seed: UInt64, image: [UInt8] = image) -> [Float] {
        var random = SplitMix64(seed: seed)
        var output = [Float](repeating: -1, count: size * size)
        image.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                augmentation.apply(source: source.baseAddress!, size: size, destination: destination.baseAddress!, random: &random)
            }
        }
        return output
    }

    @Test func noneCopiesPixelsExactly() {
        for seed in 0..<5 as Range<UInt64> {
            #expect(Self.run(.none, seed: seed) == Self.image.map(Float.init))
        }
    }

    @Test func certainFlipIsAnExactMirror() {
        let flipped = Self.run(Augmentation(horizontalFlipProbability: 1), seed: 3)
        var expected = [Float](repeating: 0, count: Self.size * Self.size)
        Self.image.withUnsafeBufferPointer { source in
            expected.withUnsafeMutableBufferPointer { destination in
                Augmentation.horizontalFlip(source: source.baseAddress!, size: Self.size, destination: destination.baseAddress!)
            }
        }
        #expect(flipped == expected)
        #expect(expected[0] == Float(Self.image[Self.size - 1]))
    }

    @Test func padAndCropShiftsByWholePixels() {
        // With padding 1 the shift is -1, 0 or 1 along each axis; the interior must be a shifted copy.
        let output = Self.run(Augmentation(cropPadding: 1, border: .constant(0)), seed: 11)
        let n = Self.size
        var matched = false
        for dy in -1...1 {
            for dx in -1...1 {
                var equal = true
                for y in 1..<n - 1 { for x in 1..<n - 1 where output[y * n + x] != Float(Self.image[(y - dy) * n + x - dx]) { equal = false } }
                matched = matched || equal
            }
        }
        #expect(matched)
    }

    @Test func sameSeedSameOutputDifferentSeedDifferentOutput() {
        let a = Self.run(.standard, seed: 1), b = Self.run(.standard, seed: 1)
        #expect(a == b)
        let others = (2..<6 as Range<UInt64>).map { Self.run(.standard, seed: $0) }
        #expect(others.allSatisfy { $0 != a })
        #expect((a + others.flatMap { $0 }).allSatisfy { $0 >= 0 && $0 <= 255 })
    }

    @Test func rotationAndZoomKeepAConstantImageConstant() {
        let flat = [UInt8](repeating: 77, count: Self.size * Self.size)
        let warped = Self.run(Augmentation(maximumRotationDegrees: 30, maximumShiftFraction: 0.2, minimumZoom: 0.7, maximumZoom: 1.3),
                              seed: 5, image: flat)
        #expect(warped.allSatisfy { abs($0 - 77) < 1e-3 })
    }

    @Test func certainErasingWritesTheErasingValue() {
        let augmentation = Augmentation(erasingProbability: 1, minimumErasingArea: 0.1, maximumErasingArea: 0.1, erasingValue: -5)
        let output = Self.run(augmentation, seed: 9)
        let erased = output.filter { $0 == -5 }.count
        #expect(erased >= 6 && erased <= 30)
        #expect(zip(output, Self.image).allSatisfy { $0 == -5 || $0 == Float($1) })
    }

    @Test func codableRoundTrip() throws {
        let data = try JSONEncoder().encode(Augmentation.standard)
        #expect(try JSONDecoder().decode(Augmentation.self, from: data) == .standard)
    }

    @Test func tenCropsAreCornersCentreAndMirrors() {
        let size = 4, crop = 2
        let image: [UInt8] = Array(0..<16)
        let crops = image.withUnsafeBufferPointer { Augmentation.tenCrops(source: $0.baseAddress!, size: size, cropSize: crop) }
        #expect(crops.count == 10)
        #expect(crops[0] == [0, 1, 4, 5])
        #expect(crops[1] == [2, 3, 6, 7])
        #expect(crops[2] == [8, 9, 12, 13])
        #expect(crops[3] == [10, 11, 14, 15])
        #expect(crops[4] == [5, 6, 9, 10])
        #expect(crops[5] == [1, 0, 5, 4])
        #expect(crops[9] == [6, 5, 10, 9])
    }
}

import Foundation
