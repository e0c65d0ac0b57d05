import CEmovereCPU

/// A layer's bfloat16 weight gradient on AMX tiles, summed over successive tiles of rows: `add` takes im2col rows
/// `a` `[rows, K]` (or a pointwise layer's input) and their output gradient `dy` `[rows, F]`, `finish` adds the sum
/// of `aᵀ · dy` to `out` `[K, F]`. A tile product needs its left operand's values along the summed rows, which `a`
/// and `dy` hold across; the smaller, `dy`, is transposed (`emovere_pack_bfloat16_columns`), `a` is read in row pairs
/// (`emovere_pack_bfloat16_pairs`), and the sums stay transposed, `[F, K]`, until `finish`, so one transpose of the
/// result serves every tile of rows. Needs `Precision.isMatrixTilesSupported`.
final class TileWeightGradient {
    /// `K` and `F`.
    let columns: Int, filters: Int
    /// `K` and `F` rounded up to the tiles' 16.
    private let paddedColumns: Int, paddedFilters: Int
    /// `[paddedFilters, paddedColumns]` sums.
    private let sums: UnsafeMutablePointer<Float>
    /// One tile of rows: `dy`'s columns as rows of `Convolution.weightGradientTile` values, and `a`'s rows in pairs.
    private let left: UnsafeMutablePointer<UInt16>, right: UnsafeMutablePointer<UInt16>

    init(columns: Int, filters: Int) {
        precondition(Precision.isMatrixTilesSupported, "TileWeightGradient needs AMX tiles")
        self.columns = columns
        self.filters = filters
        paddedColumns = (columns + 15) / 16 * 16
        paddedFilters = (filters + 15) / 16 * 16
        sums = .allocate(capacity: paddedFilters * paddedColumns)
        sums.initialize(repeating: 0, count: paddedFilters * paddedColumns)
        left = .allocate(capacity: paddedFilters * Self.depth)
        right = .allocate(capacity: Self.depth * paddedColumns)
    }

    deinit {
        sums.deallocate()
        left.deallocate()
        right.deallocate()
    }

    /// The rows summed per tile product pass: `Convolution.weightGradientTile`, a multiple of the tiles' 32.
    private static let depth = Convolution.weightGradientTile

    /// Adds `aᵀ · dy` for `rows` rows of `a` `[rows, K]` and `dy` `[rows, F]`.
    func add(_ a: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, rows: Int) {
        var first = 0
        while first < rows {
            let count = min(Self.depth, rows &- first)
            let depth = (count + 31) / 32 * 32
            emovere_pack_bfloat16_columns(dy + first &* filters, count, filters, filters, left, depth, paddedFilters)
            emovere_pack_bfloat16_pairs(a + first &* columns, count, columns, columns, right, paddedColumns)
            // Row pairs past the last: zeros (`left` is zero there too, but a stale NaN times zero is not).
            let pairs = (count + 1) / 2
            (right + 2 &* pairs &* paddedColumns).update(repeating: 0, count: (depth &- 2 &* pairs) &* paddedColumns)
            emovere_outer_amx(left, paddedFilters, right, paddedColumns, depth, sums)
            first &+= count
        }
    }

    /// Adds the sums, transposed to `[K, F]`, to `out`.
    func finish(into out: UnsafeMutablePointer<Float>) {
        emovere_add_transposed(sums, filters, columns, paddedColumns, out, filters)
    }
}
