import EmovereTensor
import EmovereTestSupport
import Testing

/// `Elementwise` maps and reductions against their definitions, written inline.
struct ElementwiseTests {
    /// ReLU, its gradient (true and guided) and the sum with and without ReLU, in every instruction-set variant this
    /// CPU runs, against their definitions written inline. 1 and 7 elements stay below a vector (the scalar tail),
    /// 37 mixes vectors and a tail, 40,000 is more than two `Parallel.elementwiseGrain`s (several chunks run).
    @Test(arguments: [1, 7, 37, 40_000])
    func reluSumAndGradientsInEveryVariant(count: Int) {
        let input = randomTensor([count], seed: 101)
        let other = randomTensor([count], seed: 103)
        let outputGradient = randomTensor([count], seed: 102)
        for instructionSet in InstructionSet.available {
            let output = garbageTensor([count])
            Elementwise.relu(input, into: output, instructionSet: instructionSet)
            #expect(output.values == input.values.map { max($0, 0) }, "relu, \(instructionSet)")
            for guided in [false, true] {
                let inputGradient = garbageTensor([count])
                Elementwise.reluBackward(output: output, outputGradient: outputGradient, guided: guided,
                                         into: inputGradient, instructionSet: instructionSet)
                let expected = zip(output.values, outputGradient.values).map { y, dy -> Float in
                    y > 0 && (!guided || dy > 0) ? dy : 0
                }
                #expect(inputGradient.values == expected, "relu gradient, guided \(guided), \(instructionSet)")
            }
            for relu in [false, true] {
                let sum = garbageTensor([count])
                Elementwise.add(input, other, relu: relu, into: sum, instructionSet: instructionSet)
                let expected = zip(input.values, other.values).map { relu ? max($0 + $1, 0) : $0 + $1 }
                #expect(sum.values == expected, "add, relu \(relu), \(instructionSet)")
            }
        }
        #expect(input.values.contains { $0 < 0 } && input.values.contains { $0 > 0 } || count < 7,
                "both sides of the ReLU are exercised")
    }

    /// A NaN passes through the ReLU and the sums (so a diverging network shows in its loss), in the vector body and
    /// the scalar tail of every variant; infinities keep their ReLU values.
    @Test func reluKeepsNaN() {
        let values: [Float] = [.nan, -1, 2, -.infinity, .infinity] + Array(repeating: 1, count: 16) + [.nan, -3]
        let input = Tensor(shape: [values.count], values: values)
        for instructionSet in InstructionSet.available {
            let output = garbageTensor([values.count])
            Elementwise.relu(input, into: output, instructionSet: instructionSet)
            let got = output.values
            #expect(got[0].isNaN && got[21].isNaN, "\(instructionSet)")
            #expect(got[1] == 0 && got[2] == 2 && got[3] == 0 && got[4] == .infinity && got[22] == 0, "\(instructionSet)")
            let sum = garbageTensor([values.count])
            Elementwise.add(input, input, relu: true, into: sum, instructionSet: instructionSet)
            #expect(sum.values[0].isNaN && sum.values[21].isNaN && sum.values[2] == 4, "\(instructionSet)")
            // A NaN gradient: the true gradient passes it where the unit is open; the guided one (dy > 0 only) drops
            // it, in the vector body and the scalar tail alike.
            let open = Tensor(shape: [values.count], values: Array(repeating: 1, count: values.count))
            for guided in [false, true] {
                let gradient = garbageTensor([values.count])
                Elementwise.reluBackward(output: open, outputGradient: input, guided: guided, into: gradient,
                                         instructionSet: instructionSet)
                let got = gradient.values
                #expect(got[0].isNaN == !guided && got[21].isNaN == !guided && (got[0] == 0) == guided
                        && (got[21] == 0) == guided, "NaN gradient, guided \(guided), \(instructionSet)")
            }
        }
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
