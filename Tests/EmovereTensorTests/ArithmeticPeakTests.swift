import EmovereTensor
import EmovereTestSupport
import Testing

/// The arithmetic peak's probe (`emovere_multiply_add_chains`) in every instruction-set variant this CPU runs
/// against `Reference.multiplyAddChains`: the chains run the stated recurrence on every lane, so `bench` counts the
/// multiply-adds it claims. Float32 rounding over 1,000 steps of a contracting recurrence stays below 1e-4 relative.
struct ArithmeticPeakTests {
    @Test(arguments: [1, 7, 1000])
    func probeMatchesReference(iterations: Int) {
        for instructionSet in InstructionSet.available {
            let probe = Double(ArithmeticPeak.probe(instructionSet, iterations: iterations))
            let reference = Reference.multiplyAddChains(iterations: iterations, lanes: instructionSet.lanes)
            #expect(abs(probe - reference) <= 1e-4 * reference, "\(instructionSet): \(probe) against \(reference)")
        }
    }

    /// A short measurement gives finite, positive rates (no division by a zero time), and shares are of all workers.
    @Test func measuredPeakIsPositive() {
        let peak = ArithmeticPeak.measure(seconds: 0.02)
        #expect(peak.perWorker > 0 && peak.perWorker.isFinite, "\(peak)")
        #expect(peak.allWorkers > 0 && peak.allWorkers.isFinite, "\(peak)")
        #expect(abs(peak.percent(of: peak.allWorkers / 2) - 50) < 1e-9)
    }
}
