import CEmovereCPU
import Foundation

/// The vector instruction sets the hot kernels are compiled for (C target `CEmovereCPU`, one source compiled once
/// per set). The package is built for the compiler's baseline CPU; the kernels pick the widest set the CPU runs
/// when the process starts (`detected`), so one binary runs everywhere and uses AVX-512 where it exists. Callers pass
/// `detected` or one of `available`: a kernel given a set the CPU lacks stops the process with a message naming it
/// (a precondition where the set is handed to the C kernels) instead of at its first instruction.
public enum InstructionSet: Int, CaseIterable, Comparable, Sendable, CustomStringConvertible {
    /// 128-bit vectors: SSE2 on x86-64, NEON on arm64.
    case portable
    /// 256-bit vectors with fused multiply-add (x86-64 AVX2 and FMA).
    case avx2
    /// 512-bit vectors (x86-64 AVX-512F).
    case avx512

    /// The widest set this CPU and operating system support, capped by `EMOVERE_MAX_ISA` (`portable`, `avx2`
    /// or `avx512`) when that is set, for comparing variants on one machine. Read once per process.
    public static let detected: InstructionSet = {
        guard let cap = ProcessInfo.processInfo.environment["EMOVERE_MAX_ISA"].flatMap(InstructionSet.init(name:)) else {
            return supported
        }
        return min(cap, supported)
    }()

    /// Every set this CPU runs, narrowest first: the variants a test can force.
    public static var available: [InstructionSet] { allCases.filter { $0 <= supported } }

    /// The widest set this CPU and operating system support (cpuid and xgetbv), whatever `EMOVERE_MAX_ISA` says.
    private static let supported = InstructionSet(rawValue: Int(emovere_detect_isa().rawValue)) ?? .portable

    /// The set named `name` (`portable`, `avx2`, `avx512`), or nil.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }

    /// Floats per vector: 4, 8 or 16.
    public var lanes: Int { Int(emovere_isa_lanes(uncheckedCValue)) }

    /// Filters in a wide direct-convolution block (`emovere_conv_wide`): 64 for AVX-512, `2 * lanes` otherwise.
    public var wideFilters: Int { Int(emovere_isa_wide_vectors(uncheckedCValue)) * lanes }

    /// The set whose one-vector (narrow) kernels take a block of at most `filters` filters: AVX2's when they fill at
    /// most half an AVX-512 vector (a 256-bit operation does as many useful multiply-adds per cycle without the empty
    /// half), else this one. The narrow kernels read each weight row `weight_stride` apart, so panels packed for this
    /// set serve both.
    public func narrow(forFilters filters: Int) -> InstructionSet {
        self == .avx512 && filters <= InstructionSet.avx2.lanes ? .avx2 : self
    }

    /// The set whose vectors divide `channels` (a multiple of 8): this one, or AVX2's 8 lanes on an AVX-512 CPU, so a
    /// per-pixel kernel runs whole vectors.
    func dividing(channels: Int) -> InstructionSet {
        self == .avx512 && channels % lanes != 0 ? .avx2 : self
    }

    public var description: String {
        switch self {
        case .portable: "portable"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }

    /// What a person reads in `emovere info --system` and `bench`.
    public var summary: String {
        switch self {
        case .portable: "portable (128-bit vectors, \(Self.baselineName))"
        case .avx2: "avx2 (256-bit vectors, AVX2 and FMA)"
        case .avx512: "avx512 (512-bit vectors, AVX-512F)"
        }
    }

    public static func < (lhs: InstructionSet, rhs: InstructionSet) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The set as the C kernels name it, for running them: it must be one this CPU runs.
    var cValue: emovere_isa {
        precondition(self <= Self.supported,
                     "the \(self) kernels need \(summary); this CPU runs \(Self.available.map(\.description).joined(separator: ", "))")
        return uncheckedCValue
    }

    /// The set as the C kernels name it, for their sizes (any set, on any CPU).
    private var uncheckedCValue: emovere_isa { emovere_isa(rawValue: numericCast(rawValue)) }

    private static var baselineName: String {
        #if arch(x86_64)
        "SSE2"
        #elseif arch(arm64)
        "NEON"
        #else
        "compiler baseline"
        #endif
    }
}
