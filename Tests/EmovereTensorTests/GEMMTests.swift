import EmovereTensor
import EmovereTestSupport
import Testing

/// `Gemm.multiply` (OpenBLAS) against `Reference.matrixMultiply` for every transpose combination.
///
/// Tolerances: relative 1e-4, absolute 1e-4 (float32 sums of up to 37 products in [-1, 1]).
struct GEMMTests {
    struct GEMMCase: CustomTestStringConvertible, Sendable {
        var m: Int
        var n: Int
        var k: Int
        var transposeA: Bool
        var transposeB: Bool
        var alpha: Float = 1
        var beta: Float = 0
        var testDescription: String {
            "\(m)x\(n)x\(k) \(transposeA ? "Aᵀ" : "A")\(transposeB ? "Bᵀ" : "B") alpha \(alpha) beta \(beta)"
        }
    }

    static let cases: [GEMMCase] = {
        var cases: [GEMMCase] = []
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                cases.append(GEMMCase(m: 7, n: 5, k: 3, transposeA: transposeA, transposeB: transposeB))
                cases.append(GEMMCase(m: 1, n: 9, k: 37, transposeA: transposeA, transposeB: transposeB))
                cases.append(GEMMCase(m: 33, n: 17, k: 1, transposeA: transposeA, transposeB: transposeB))
                cases.append(GEMMCase(m: 13, n: 11, k: 19, transposeA: transposeA, transposeB: transposeB,
                                      alpha: 0.5, beta: -2))
            }
        }
        return cases
    }()

    @Test(arguments: cases)
    func matchesReference(testCase: GEMMCase) {
        let a = randomValues(testCase.m * testCase.k, seed: 61)
        let b = randomValues(testCase.k * testCase.n, seed: 62)
        // With beta 0 the initial C must be ignored, garbage included.
        var c = testCase.beta == 0
            ? [Float](repeating: 123.25, count: testCase.m * testCase.n)
            : randomValues(testCase.m * testCase.n, seed: 63)
        let expected = Reference.matrixMultiply(
            a, b, c: c, m: testCase.m, n: testCase.n, k: testCase.k, transposeA: testCase.transposeA,
            transposeB: testCase.transposeB, alpha: testCase.alpha, beta: testCase.beta)
        a.withUnsafeBufferPointer { aBuffer in
            b.withUnsafeBufferPointer { bBuffer in
                c.withUnsafeMutableBufferPointer { cBuffer in
                    guard let aBase = aBuffer.baseAddress, let bBase = bBuffer.baseAddress,
                          let cBase = cBuffer.baseAddress else { return }
                    Gemm.multiply(aBase, bBase, into: cBase, m: testCase.m, n: testCase.n, k: testCase.k,
                                  transposeA: testCase.transposeA, transposeB: testCase.transposeB,
                                  alpha: testCase.alpha, beta: testCase.beta)
                }
            }
        }
        #expect(closeness(c, expected, absoluteTolerance: 1e-4) <= 1)
    }

    /// An empty inner dimension gives a zero product (BLAS would reject `lda = 0`).
    @Test func emptyInnerDimensionGivesZeros() {
        let a = Tensor(shape: [1])
        let b = Tensor(shape: [1])
        let c = Tensor(shape: [3, 4], repeating: 5)
        Gemm.multiply(a.pointer, b.pointer, into: c.pointer, m: 3, n: 4, k: 0)
        #expect(c.values == [Float](repeating: 0, count: 12))
        // With beta the product is beta * C (the empty product adds nothing).
        let kept = Tensor(shape: [3, 4], repeating: 5)
        Gemm.multiply(a.pointer, b.pointer, into: kept.pointer, m: 3, n: 4, k: 0, beta: 0.5)
        #expect(kept.values == [Float](repeating: 2.5, count: 12))
    }

    @Test func libraryIsDescribed() {
        Gemm.configureThreads()
        #expect(!Gemm.libraryDescription.isEmpty)
    }
}
