import EmovereCore
import EmovereTensor
import Testing

/// Kernels run with denormals flushed to zero, and the thread's floating-point state is restored afterwards.
struct DenormalTests {
    @Test func denormalsFlushInsideKernelsAndNotOutside() {
        let values = [Float(bitPattern: 1), 1]  // the smallest denormal, and a factor the compiler cannot fold
        let outside = values[0] * values[1]
        let inside = Parallel.withDenormalsFlushed { values[0] * values[1] }
        #expect(outside == Float(bitPattern: 1), "denormals are kept outside kernels")
        #expect(inside == 0, "denormals are flushed inside kernels")
        #expect(values[0] * values[1] == Float(bitPattern: 1), "the state is restored")

        // A kernel split over the worker threads flushes on every thread.
        let input = Tensor(shape: [40_000], repeating: Float(bitPattern: 3))
        let output = Tensor(shape: [40_000], repeating: 1)
        Elementwise.add(input, input, into: output)
        #expect(output.values.allSatisfy { $0 == 0 })
    }
}
