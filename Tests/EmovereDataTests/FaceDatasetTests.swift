import Testing
import EmovereData

struct FaceDatasetTests {
    static func dataset(count: Int) -> FaceDataset {
        var dataset = FaceDataset(imageSize: 2)
        for index in 0..<count {
            // Every image different: pixel 2 tells apart images 256 apart.
            let value = UInt8(index % 256)
            dataset.append(pixels: [value, value, value ^ UInt8(index / 256), value], emotion: Emotion(rawValue: index % 7)!)
        }
        return dataset
    }

    @Test func accessorsAndClassCounts() {
        let dataset = Self.dataset(count: 10)
        #expect(dataset.count == 10 && dataset.pixelsPerImage == 4)
        #expect(dataset.classCounts == [2, 2, 2, 1, 1, 1, 1])
        #expect(dataset.pixelOffset(of: 3) == 12)
        #expect(dataset.image(at: 3).pixels == [3, 3, 3, 3])
        #expect(dataset.emotion(at: 3) == .happy)
        #expect(dataset.withPixels(ofImage: 5) { $0[3] } == 5)
        #expect(dataset.subset([4, 1]).labels == [4, 1])
    }

    @Test func holdOutSplitIsStratifiedDisjointAndDeterministic() {
        let dataset = Self.dataset(count: 700)
        let (remaining, heldOut) = dataset.split(holdOutFraction: 0.2, seed: 42)
        #expect(heldOut.classCounts == [Int](repeating: 20, count: 7))
        #expect(remaining.count + heldOut.count == 700)
        let again = dataset.split(holdOutFraction: 0.2, seed: 42)
        #expect(again.remaining == remaining && again.heldOut == heldOut)
        let other = dataset.split(holdOutFraction: 0.2, seed: 43)
        #expect(other.heldOut != heldOut)
        // Disjoint and complete: each image's first pixel is (index % 256); compare multisets of (label, pixel).
        func keys(_ set: FaceDataset) -> [Int] { (0..<set.count).map { set.labels[$0] * 1000 + Int(set.pixels[$0 * 4]) } }
        #expect((keys(remaining) + keys(heldOut)).sorted() == keys(dataset).sorted())
    }

    /// A held-out image with a copy among the images that stay (whatever its label) is left out of both parts.
    @Test func copiesOfKeptImagesAreNotHeldOut() {
        var dataset = Self.dataset(count: 700)
        // Image 700 copies image 3's pixels under another label; image 701 is new.
        dataset.append(pixels: dataset.image(at: 3).pixels, emotion: .neutral)
        dataset.append(pixels: [200, 1, 77, 5], emotion: .neutral)
        func contains(_ set: FaceDataset, _ pixels: [UInt8]) -> Bool { (0..<set.count).contains { set.image(at: $0).pixels == pixels } }
        let copy = dataset.image(at: 3).pixels
        var seeds = 0
        for seed in 1...40 as ClosedRange<UInt64> {
            let (remaining, heldOut) = dataset.split(holdOutFraction: 0.5, seed: seed)
            #expect(!(contains(remaining, copy) && contains(heldOut, copy)), "seed \(seed): a copy on each side")
            if remaining.count + heldOut.count == 701 { seeds += 1 }  // one copy held out, and left out
            #expect(remaining.count + heldOut.count >= 701, "seed \(seed): only the copy may be left out")
        }
        #expect(seeds > 0, "some seed splits the two copies, and one is left out")
    }
}
