import EmovereTensor
import Foundation
import Testing

/// The run-time choice of kernel variants: what cpuid reports agrees with what the kernel reports in
/// `/proc/cpuinfo`, and the choice is one the CPU runs.
struct InstructionSetTests {
    @Test func detectedSetIsAvailableAndNamed() {
        #expect(InstructionSet.available.first == .portable)
        #expect(InstructionSet.available.contains(InstructionSet.detected))
        for set in InstructionSet.allCases {
            #expect(InstructionSet(name: set.description) == set)
        }
        #expect(InstructionSet(name: "sse9") == nil)
        #expect(InstructionSet.allCases.map(\.lanes) == [4, 8, 16] || InstructionSet.allCases.map(\.lanes) == [4, 4, 4])
    }

    /// On Linux x86-64 the kernel lists the features it lets processes use; the detected set must be the widest of
    /// them (unless `EMOVERE_MAX_ISA` caps it).
    @Test func detectionAgreesWithTheOperatingSystem() throws {
        #if os(Linux) && arch(x86_64)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flagsLine = try #require(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(flagsLine.split(separator: ":").last!.split(separator: " ").map(String.init))
        let expected: InstructionSet = flags.contains("avx512f") ? .avx512
            : flags.isSuperset(of: ["avx2", "fma"]) ? .avx2 : .portable
        #expect(InstructionSet.available.last == expected)
        let environment = ProcessInfo.processInfo.environment
        if environment["EMOVERE_MAX_ISA"] == nil {
            #expect(InstructionSet.detected == expected)
            // The bfloat16 paths: a wrong detection bit would turn their tests into skips with the run still green.
            #expect(Precision.isBFloat16Supported == flags.isSuperset(of: ["avx512f", "avx512_bf16"]), "\(flags.sorted())")
            // AMX needs the kernel's permission too (a container may refuse it), so only: used implies listed.
            if Precision.isMatrixTilesSupported {
                #expect(flags.isSuperset(of: ["amx_tile", "amx_bf16"]), "\(flags.sorted())")
            }
        }
        #endif
    }

    /// Blocks of at most 8 filters take AVX2's narrow kernels on an AVX-512 CPU; everything else keeps its set.
    @Test func narrowBlocksOfHalfAnAVX512VectorTakeAVX2() {
        #expect(InstructionSet.avx512.narrow(forFilters: 8) == .avx2)
        #expect(InstructionSet.avx512.narrow(forFilters: 7) == .avx2)
        #expect(InstructionSet.avx512.narrow(forFilters: 9) == .avx512)
        #expect(InstructionSet.avx2.narrow(forFilters: 4) == .avx2)
        #expect(InstructionSet.portable.narrow(forFilters: 2) == .portable)
    }

    /// A set this CPU lacks, given to a kernel, stops the process with a message naming it, not with the CPU's illegal
    /// instruction at the kernel's first vector operation (both end in SIGILL on x86-64: the message tells them apart).
    @Test(.enabled(if: InstructionSet.available.count < InstructionSet.allCases.count, "this CPU runs every set"))
    func aSetTheCPULacksIsRefusedByName() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let missing = InstructionSet.allCases.last!
            let input = Tensor(shape: [1, 2, 2, 8], repeating: -1)
            Elementwise.relu(input, into: Tensor(shape: [1, 2, 2, 8], repeating: 0), instructionSet: missing)
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("the avx512 kernels need avx512 (512-bit vectors, AVX-512F); this CPU runs portable"), "\(message)")
    }
}
