import EmovereCore
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
        let n = Self.size
        let expected = (0..<n * n).map { Float(Self.image[($0 / n) * n + n - 1 - $0 % n]) }
        #expect(flipped == expected)
        #expect(expected[0] == Float(Self.image[Self.size - 1]))
    }

    @Test func padAndCropShiftsByWholePixels() {
        // With padding 1 the shift is -1, 0 or 1 along each axis; the interior must be a shifted copy. Across seeds
        // some shifts are not zero (an augmentation that did nothing matched the zero shift every time), and a
        // shifted copy's uncovered border is the constant 0.
        let n = Self.size
        var shifts: Set<[Int]> = []
        for seed: UInt64 in 11..<19 {
            let output = Self.run(Augmentation(cropPadding: 1, border: .constant(0)), seed: seed)
            var matched: [Int]?
            for dy in -1...1 {
                for dx in -1...1 {
                    var equal = true
                    for y in 1..<n - 1 { for x in 1..<n - 1 where output[y * n + x] != Float(Self.image[(y - dy) * n + x - dx]) { equal = false } }
                    if equal { matched = [dx, dy] }
                }
            }
            guard let shift = matched else {
                Issue.record("seed \(seed): the interior is no shifted copy of the image")
                continue
            }
            shifts.insert(shift)
            let (dx, dy) = (shift[0], shift[1])
            let border = (0..<n * n).filter { index in
                let (x, y) = (index % n, index / n)
                return (dx == 1 && x == 0) || (dx == -1 && x == n - 1) || (dy == 1 && y == 0) || (dy == -1 && y == n - 1)
            }
            #expect(border.allSatisfy { output[$0] == 0 }, "seed \(seed), shift \(shift): the uncovered border is not 0")
        }
        #expect(shifts.contains { $0 != [0, 0] }, "\(shifts)")
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
        for augmentation in [Augmentation.standard, .robust] {
            let data = try JSONEncoder().encode(augmentation)
            #expect(try JSONDecoder().decode(Augmentation.self, from: data) == augmentation)
        }
        // Cards written before corruptions existed have no such key.
        var old = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(Augmentation.standard)) as? [String: Any])
        old["corruptions"] = nil
        #expect(try JSONDecoder().decode(Augmentation.self, from: JSONSerialization.data(withJSONObject: old)) == .standard)
    }
}

import Foundation
