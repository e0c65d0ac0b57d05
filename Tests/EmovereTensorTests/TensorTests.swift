import EmovereCore
import EmovereTensor
import EmovereTestSupport
import Foundation
import Testing

/// `Tensor` storage semantics and `Parallel`'s partition of work.
struct TensorTests {
    @Test func newTensorsAreZeroFilled() {
        let tensor = Tensor(shape: [2, 3, 4])
        #expect(tensor.count == 24)
        #expect(tensor.values == [Float](repeating: 0, count: 24))
        #expect(tensor.description == "Tensor[2, 3, 4]")
    }

    @Test func emptyShapesHaveNoElements() {
        #expect(Tensor(shape: [0, 5]).count == 0)
        #expect(Tensor(shape: [0]).values.isEmpty)
        // A scalar (no dimensions) holds one element.
        #expect(Tensor(shape: []).count == 1)
    }

    @Test func valuesRoundTripInRowMajorOrder() {
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        let tensor = Tensor(shape: [2, 3], values: values)
        #expect(tensor.values == values)
        #expect(tensor[4] == 5)
        tensor[4] = -1
        #expect(tensor.values == [1, 2, 3, 4, -1, 6])
        #expect(tensor.buffer.count == 6)
    }

    @Test func repeatingAndZero() {
        let tensor = Tensor(shape: [3, 2], repeating: 2.5)
        #expect(tensor.values == [Float](repeating: 2.5, count: 6))
        tensor.zero()
        #expect(tensor.values == [Float](repeating: 0, count: 6))
    }

    @Test func copiesNeverShareStorage() {
        let original = Tensor(shape: [4], values: [1, 2, 3, 4])
        let copy = original.copy()
        copy[0] = 9
        #expect(original[0] == 1)
        #expect(copy.shape == original.shape)
        let target = Tensor(shape: [2, 2])
        target.copy(from: original)
        #expect(target.values == original.values)
        #expect(target.shape == [2, 2])
    }

    @Test func reusingKeepsABufferOfTheSameShape() {
        let existing = Tensor(shape: [2, 3], repeating: 1)
        #expect(Tensor.reusing(existing, shape: [2, 3]) === existing)
        let other = Tensor.reusing(existing, shape: [3, 2])
        #expect(other !== existing)
        #expect(other.values == [Float](repeating: 0, count: 6))
        #expect(Tensor.reusing(nil, shape: [1]).shape == [1])
    }

    /// The chunks partition `0..<count` exactly: contiguous, in order, none empty (unless `count` is 0),
    /// balanced to within one element, and never more than `maximumChunks` or `count`.
    @Test(arguments: [0, 1, 2, 3, 5, 7, 16, 100, 1001], [1, 2, 3, 4, 8])
    func chunksCoverTheRangeExactly(count: Int, maximumChunks: Int) {
        let chunks = Parallel.chunks(count, maximumChunks: maximumChunks)
        #expect(chunks.count == max(1, min(maximumChunks, count)))
        #expect(chunks.first?.lowerBound == 0)
        #expect(chunks.last?.upperBound == count)
        for (previous, next) in zip(chunks, chunks.dropFirst()) {
            #expect(previous.upperBound == next.lowerBound)
        }
        if count > 0 {
            #expect(chunks.allSatisfy { !$0.isEmpty })
            let sizes = chunks.map(\.count)
            #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1)
        }
        #expect(chunks.reduce(0) { $0 + $1.count } == count)
    }

    @Test func workerCountIsPositive() {
        #expect(Parallel.workerCount >= 1)
        #expect(Parallel.chunks(1000).count == min(Parallel.workerCount, 1000))
    }

    /// `forEachChunk` calls the body once per chunk with that chunk's index and range, so every index
    /// is visited exactly once.
    @Test(arguments: [1, 3, 10, 257])
    func forEachChunkVisitsEveryIndexOnce(count: Int) {
        let visits = Tensor(shape: [count])
        let chunkOf = Tensor(shape: [count], repeating: -1)
        let visitPointer = UnsafeSendable(visits.pointer)
        let chunkPointer = UnsafeSendable(chunkOf.pointer)
        Parallel.forEachChunk(count, maximumChunks: 4) { chunk, range in
            for index in range {
                visitPointer.value[index] += 1
                chunkPointer.value[index] = Float(chunk)
            }
        }
        #expect(visits.values == [Float](repeating: 1, count: count))
        let expectedChunks = Parallel.chunks(count, maximumChunks: 4).enumerated().flatMap { chunk, range in
            range.map { _ in Float(chunk) }
        }
        #expect(chunkOf.values == expectedChunks)
    }

    @Test func geometryFollowsKerasPadding() {
        let same = ConvolutionGeometry(inputHeight: 7, inputWidth: 8, channels: 3, kernelSize: 3, stride: 2,
                                       padding: .same)
        #expect((same.outputHeight, same.outputWidth) == (4, 4))
        // Total padding 2 (height) and 1 (width): top/left get half, rounded down.
        #expect((same.padTop, same.padLeft) == (1, 0))
        let valid = ConvolutionGeometry(inputHeight: 7, inputWidth: 8, channels: 3, kernelSize: 3, stride: 2,
                                        padding: .valid)
        #expect((valid.outputHeight, valid.outputWidth) == (3, 3))
        #expect(valid.inputSize == 168 && valid.taps == 9 && valid.outputPixels == 9)
        #expect(ConvolutionGeometry(inputHeight: 5, inputWidth: 5, channels: 8, kernelSize: 1, stride: 1,
                                    padding: .same).isPointwise)
        #expect(!ConvolutionGeometry(inputHeight: 5, inputWidth: 5, channels: 8, kernelSize: 1, stride: 2,
                                     padding: .same).isPointwise)
    }

    @Test func splitMixIsReproducible() {
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        var other = SplitMix64(seed: 43)
        let a = (0..<8).map { _ in first.next() }
        #expect(a == (0..<8).map { _ in second.next() })
        #expect(a != (0..<8).map { _ in other.next() })
        var unit = SplitMix64(seed: 1)
        #expect((0..<1000).allSatisfy { _ in (0..<1).contains(unit.nextUnit()) })
    }
}

/// The shapes meant to run several chunks really do, on any machine with more than one core.
struct ParallelCoverageTests {
    @Test(.enabled(if: Parallel.workerCount > 1, "one worker: every batch runs as a single chunk"),
          arguments: WindowCase.multiChunk)
    func multiChunkCasesSplitTheBatch(testCase: WindowCase) {
        let g = testCase.geometry
        #expect(Parallel.chunks(testCase.batch, minimumChunk: g.minimumImagesPerChunk).count > 1)
    }

    /// `minimumChunk` keeps small jobs whole and otherwise still partitions the range exactly.
    @Test(arguments: [0, 5, 99, 100, 250, 1001])
    func minimumChunkIsRespected(count: Int) {
        let chunks = Parallel.chunks(count, maximumChunks: 8, minimumChunk: 100)
        #expect(chunks.first?.lowerBound == 0 && chunks.last?.upperBound == count)
        #expect(chunks.reduce(0) { $0 + $1.count } == count)
        if chunks.count > 1 { #expect(chunks.allSatisfy { $0.count >= 100 }) }
        #expect(chunks.count == max(1, min(8, count / 100)))
    }
}
