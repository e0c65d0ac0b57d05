import CEmovereCPU
import Foundation

/// The arithmetic of a network's dense convolutions (the direct path and, in training, the input gradient; depthwise,
/// pooling, dense layers and weight gradients stay in single precision).
public enum Precision: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// Single-precision multiplications and sums.
    case float32
    /// bfloat16 multiplications (8 significant bits) with single-precision sums, where the CPU has AVX512_BF16
    /// (`isSupported`): twice the multiply-adds per instruction of `float32`, and on AMX tiles where the CPU has them
    /// (`usesMatrixTiles`). Faster than `float32` on AMD Zen 4 and 5 and on Intel CPUs with AMX; on Intel's AVX512_BF16
    /// alone (Cooper Lake) it need not be. Each dense convolution's input and weights are rounded to bfloat16 (to
    /// nearest), so results differ from `float32` in the third significant digit.
    case bfloat16

    /// Whether this CPU runs the bfloat16 kernels: AVX512_BF16, with `InstructionSet.detected` at avx512.
    public static let isBFloat16Supported = InstructionSet.detected == .avx512 && emovere_detect_bfloat16() != 0

    /// Whether this CPU runs AMX tiles with bfloat16 products (AMX-TILE and AMX-BF16: Intel Sapphire Rapids and
    /// later), with `isBFloat16Supported`. Asks the operating system for the tile state on first use.
    public static let isMatrixTilesSupported = isBFloat16Supported && emovere_detect_matrix_tiles() != 0

    /// Whether bfloat16 kernels run their wide convolution blocks and training's weight gradients on AMX tiles
    /// (`PackedKernel`, `Convolution.weightGradient`): where the CPU has them (`isMatrixTilesSupported`), unless
    /// `EMOVERE_MATRIX_TILES=0` (for comparing the two on one machine). Intel's AVX512_BF16 pairs do fewer
    /// multiply-adds per cycle than its float32 FMAs; its tiles do many times more.
    public static let usesMatrixTiles =
        isMatrixTilesSupported && ProcessInfo.processInfo.environment["EMOVERE_MATRIX_TILES"] != "0"

    /// Whether this CPU runs this precision's kernels (`float32` runs everywhere).
    public var isSupported: Bool { self == .float32 || Self.isBFloat16Supported }

    /// This precision where the CPU runs it, else `float32`.
    public var supported: Precision { isSupported ? self : .float32 }

    public var description: String { rawValue }

    /// What a command prints when bfloat16 was asked for on a CPU that runs float32 instead.
    public static let fallbackNote =
        "note: bfloat16 needs AVX512_BF16 and the avx512 kernels (not this CPU's, or capped by EMOVERE_MAX_ISA): float32 runs"
}
