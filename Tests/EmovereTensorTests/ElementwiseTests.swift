import EmovereTensor
import EmovereTestSupport
import Testing

/// `Elementwise` maps and reductions against their definitions, written inline.
struct ElementwiseTests {
    /// 40,000 elements are more than two `Parallel.elementwiseGrain`s, so several chunks run.
    @Test(arguments: [1, 7, 40_000])
    func reluAndItsGradient(count: Int) {
        let input = randomTensor([count], seed: 101)
        let output = garbageTensor([count])
        Elementwise.relu(input, into: output)
        #expect(output.values == input.values.map { max($0, 0) })
        let outputGradient = randomTensor([count], seed: 102)
        let inputGradient = garbageTensor([count])
        Elementwise.reluBackward(output: output, outputGradient: outputGradient, into: inputGradient)
        #expect(inputGradient.values == zip(output.values, outputGradient.values).map { $0 > 0 ? $1 : 0 })
    }

    @Test func addAndMultiply() {
        let a = randomTensor([33], seed: 103)
        let b = randomTensor([33], seed: 104)
        let sum = garbageTensor([33])
        Elementwise.add(a, b, into: sum)
        #expect(sum.values == zip(a.values, b.values).map { $0 + $1 })
        let product = garbageTensor([33])
        Elementwise.multiply(a, b, into: product)
        #expect(product.values == zip(a.values, b.values).map { $0 * $1 })
        // In place: output aliases the first operand.
        let expected = zip(a.values, b.values).map { $0 + $1 }
        Elementwise.add(a, b, into: a)
        #expect(a.values == expected)
    }

    @Test func rowVectorBroadcastAndReductions() {
        let rows = 5
        let columns = 3
        let matrix = randomTensor([rows, columns], seed: 105)
        let original = matrix.values
        let vector = randomTensor([columns], seed: 106)
        Elementwise.addRowVector(vector.pointer, to: matrix.pointer, rows: rows, columns: columns)
        let expectedBroadcast = original.enumerated().map { $1 + vector[$0 % columns] }
        #expect(matrix.values == expectedBroadcast)

        let sums = garbageTensor([columns])
        Elementwise.sumRows(matrix.pointer, rows: rows, columns: columns, into: sums.pointer)
        let expectedSums = (0..<columns).map { column in
            (0..<rows).reduce(Float(0)) { $0 + expectedBroadcast[$1 * columns + column] }
        }
        #expect(closeness(sums.values, expectedSums) <= 1)

        // Three chunks of 4 with stride 5: the fifth element of each chunk is padding and is ignored.
        let chunks = Tensor(shape: [15], values: (0..<15).map { Float($0) })
        let total = garbageTensor([4])
        Elementwise.sumChunks(chunks.pointer, chunkCount: 3, chunkStride: 5, count: 4, into: total.pointer)
        #expect(total.values == [15, 18, 21, 24])
    }
}
