import CEmovereCPU

/// Convolution weights laid out for `Convolution.directForward` on one instruction set: the kernel's
/// `[KH*KW*C, F]` matrix cut into panels of `instructionSet.wideFilters` filters (then `lanes` filters, the last
/// padded with zeros), each panel stored row after row. A microkernel then reads its weights as one sequential
/// stream instead of rows `F` floats apart, which with `F` a power of two fall into a few cache sets and evict each
/// other. With `Precision.bfloat16` the panels hold bfloat16 values instead, each pair of rows (2q, 2q+1) interleaved
/// filter by filter, as `emovere_conv_wide_bf16` reads them. A float32 panel of at most `lanes / 2` filters whose
/// rows pair up within the window runs is interleaved the same way (`Panel.isPaired`), for `emovere_conv_paired`.
public final class PackedKernel {
    /// The panels' width and the microkernels they are packed for.
    public let instructionSet: InstructionSet
    /// The values' type: `float32` (`values`) or `bfloat16` (`halves`).
    public let precision: Precision
    /// Whether the wide `bfloat16` panels run on AMX tiles (`emovere_conv_wide_amx`) instead of AVX512_BF16.
    public let usesMatrixTiles: Bool
    /// Rows of the kernel matrix: `KH * KW * C`.
    public let rows: Int
    /// Output channels.
    public let filters: Int
    /// The panels, first filter ascending.
    let panels: [Panel]
    /// Every panel's values, `rows * width` each, in panel order (`float32`; empty otherwise).
    let values: UnsafeMutablePointer<Float>
    /// Every panel's values as bfloat16, `rows * width` each, in panel order, row pairs interleaved (`bfloat16`;
    /// empty otherwise).
    let halves: UnsafeMutablePointer<UInt16>

    /// Filters `first ..< first + valid` of the kernel, `width` floats per row (`wideFilters` or `lanes`), at `offset`;
    /// a paired panel holds rows 2q and 2q+1 in one row of `width` floats, filter f's two values in lanes 2f, 2f+1.
    struct Panel {
        let first: Int
        let width: Int
        let valid: Int
        let offset: Int
        let isPaired: Bool

        /// Where the value of kernel row `row` and the panel's filter `filter` lies, from `offset`.
        func index(row: Int, filter: Int) -> Int {
            isPaired ? row / 2 * width + 2 * filter + row % 2 : row * width + filter
        }
    }

    /// Whether some panels hold row pairs: a convolution with this kernel needs window runs of even length.
    public var hasPairedPanels: Bool { panels.contains(where: \.isPaired) }

    /// Space for a kernel of `rows` x `filters` (values are set by `update(from:)`). `bfloat16` needs a CPU that
    /// runs it (`Precision.isBFloat16Supported`), the avx512 set and an even number of rows. `runLength`: the rows'
    /// window runs (a convolution's `KW * C`; `rows` for a plain product): when even, float32 panels of at most
    /// `lanes / 2` filters are packed in row pairs (`emovere_conv_paired`, two taps per multiply-add); nil never pairs.
    /// `matrixTiles`: run the wide `bfloat16` panels on AMX tiles (needs `Precision.isMatrixTilesSupported`).
    public init(rows: Int, filters: Int, instructionSet: InstructionSet = .detected, precision: Precision = .float32,
                runLength: Int? = nil, matrixTiles: Bool = Precision.usesMatrixTiles) {
        precondition(rows > 0 && filters > 0, "PackedKernel needs positive rows and filters")
        precondition(precision == .float32 || (precision.isSupported && instructionSet == .avx512 && rows % 2 == 0),
                     "bfloat16 kernels need AVX512_BF16, the avx512 set and an even number of rows")
        precondition(runLength.map { $0 > 0 && rows % $0 == 0 } ?? true, "runLength must divide the \(rows) rows")
        self.instructionSet = instructionSet
        self.precision = precision
        precondition(!matrixTiles || precision == .float32 || Precision.isMatrixTilesSupported,
                     "AMX tiles need AMX-TILE and AMX-BF16")
        usesMatrixTiles = matrixTiles && precision == .bfloat16
        self.rows = rows
        self.filters = filters
        let lanes = instructionSet.lanes
        let wide = instructionSet.wideFilters
        let pairs = precision == .float32 && (runLength.map { $0 % 2 == 0 } ?? false)
        var panels: [Panel] = []
        var first = 0
        while first + wide <= filters {
            panels.append(Panel(first: first, width: wide, valid: wide, offset: rows * first, isPaired: false))
            first += wide
        }
        while first < filters {
            let valid = min(lanes, filters - first)
            panels.append(Panel(first: first, width: lanes, valid: valid, offset: rows * first,
                                isPaired: pairs && valid <= lanes / 2))
            first += lanes
        }
        self.panels = panels
        let count = rows * first
        values = .allocate(capacity: precision == .float32 ? count : 0)
        values.initialize(repeating: 0, count: precision == .float32 ? count : 0)
        halves = .allocate(capacity: precision == .bfloat16 ? count : 0)
        halves.initialize(repeating: 0, count: precision == .bfloat16 ? count : 0)
    }

    /// `kernel` (`[KH, KW, C, F]` or any shape of `rows * filters` values, filters innermost) packed for
    /// `instructionSet` in `precision`, paired within runs of `runLength` rows where it is even; `matrixTiles` as
    /// in `init(rows:filters:instructionSet:precision:runLength:matrixTiles:)`.
    public convenience init(_ kernel: Tensor, instructionSet: InstructionSet = .detected,
                            precision: Precision = .float32, runLength: Int? = nil,
                            matrixTiles: Bool = Precision.usesMatrixTiles) {
        let filters = kernel.shape[kernel.shape.count - 1]
        self.init(rows: kernel.count / max(filters, 1), filters: filters, instructionSet: instructionSet,
                  precision: precision, runLength: runLength, matrixTiles: matrixTiles)
        update(from: kernel)
    }

    deinit {
        values.deallocate()
        halves.deallocate()
    }

    /// Copies `kernel` (`rows * filters` values, filters innermost) into the panels, rounded to bfloat16 (to nearest)
    /// for a `bfloat16` kernel.
    public func update(from kernel: Tensor) {
        precondition(kernel.count == rows * filters, "kernel \(kernel.shape) does not match \(rows) x \(filters)")
        let source = kernel.pointer
        if precision == .bfloat16 { return updateHalves(from: source) }
        for panel in panels {
            let target = values + panel.offset
            for row in 0..<rows {
                let from = source + (row * filters + panel.first)
                guard panel.isPaired else {
                    (target + row * panel.width).update(from: from, count: panel.valid)
                    continue
                }
                for filter in 0..<panel.valid { target[panel.index(row: row, filter: filter)] = from[filter] }
            }
        }
    }

    /// Copies the transpose of `kernel` into the panels: `kernel` holds `filters * rows` values, `rows` innermost (a
    /// convolution's `[KH, KW, C, F]` kernel packed as `F` rows x `KH*KW*C` filters: the input gradient's `Wᵀ`),
    /// rounded to bfloat16 for a `bfloat16` kernel.
    public func update(transposing kernel: Tensor) {
        precondition(kernel.count == rows * filters, "kernel \(kernel.shape) does not match \(filters) x \(rows)")
        let source = kernel.pointer
        if precision == .bfloat16 {
            let transposed = UnsafeMutablePointer<Float>.allocate(capacity: rows * filters)
            defer { transposed.deallocate() }
            for row in 0..<rows {
                for filter in 0..<filters { transposed[row * filters + filter] = source[filter * rows + row] }
            }
            return updateHalves(from: transposed)
        }
        for panel in panels {
            let target = values + panel.offset
            for row in 0..<rows {
                for filter in 0..<panel.valid {
                    target[panel.index(row: row, filter: filter)] = source[(panel.first + filter) * rows + row]
                }
            }
        }
    }

    private func updateHalves(from source: UnsafePointer<Float>) {
        let rounded = UnsafeMutablePointer<UInt16>.allocate(capacity: rows * filters)
        defer { rounded.deallocate() }
        emovere_to_bfloat16(source, rounded, rows * filters)
        for panel in panels {
            let target = halves + panel.offset
            for pair in 0..<rows / 2 {
                for filter in 0..<panel.valid {
                    for half in 0..<2 {
                        target[(2 * pair * panel.width) + 2 * filter + half] =
                            rounded[(2 * pair + half) * filters + panel.first + filter]
                    }
                }
            }
        }
    }
}
