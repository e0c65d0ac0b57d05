// Dense 2-D convolution as im2col + GEMM (the weight gradient by its own kernels), NHWC.
// input [N, H, W, C], kernel [KH, KW, C, F] (HWIO, Keras layout) seen as [KH*KW*C, F],
// columns [N*OH*OW, KH*KW*C], output [N, OH, OW, F].
// Work is split over the batch; each chunk writes its own rows, so results are deterministic.

import CEmovereCPU
import EmovereCore

/// Dense convolution kernels (forward and backward).
public enum Convolution {
    /// Output columns of `g` whose windows lie within the input's width.
    static func interiorColumns(_ g: ConvolutionGeometry) -> Range<Int> {
        let reach = g.inputWidth &- g.kernelWidth &+ g.padLeft
        guard reach >= 0 else { return 0..<0 }
        let first = min(g.outputWidth, (g.padLeft &+ g.stride &- 1) / g.stride)
        return first..<max(first, min(g.outputWidth, reach / g.stride &+ 1))
    }

    /// Writes the im2col rows of output rows `outputRows` (global row `n * OH + oy` over the batch) into
    /// `columns`, `OW` matrix rows per output row. Out-of-frame taps are zero. Pixels whose windows lie in frame
    /// copy their window rows with `emovere_im2col_row` for `instructionSet`; the others tap by tap.
    public static func im2col(
        _ input: UnsafePointer<Float>, geometry g: ConvolutionGeometry, outputRows: Range<Int>,
        into columns: UnsafeMutablePointer<Float>, instructionSet: InstructionSet = .detected
    ) {
        let c = g.channels
        let rowLength = g.taps &* c
        let runLength = g.kernelWidth &* c
        let interior = interiorColumns(g)
        var row = columns
        for outputRow in outputRows {
            let n = outputRow / g.outputHeight
            let oy = outputRow &- n &* g.outputHeight
            let image = input + n &* g.inputSize
            let y0 = oy &* g.stride &- g.padTop
            let rowsInFrame = y0 >= 0 && y0 &+ g.kernelHeight <= g.inputHeight
            if rowsInFrame && !interior.isEmpty {
                let first = image + (y0 &* g.inputWidth &+ interior.lowerBound &* g.stride &- g.padLeft) &* c
                emovere_im2col_row(instructionSet.cValue, first, g.inputWidth &* c, g.kernelHeight, runLength,
                                   g.stride &* c, interior.count, row + interior.lowerBound &* rowLength)
            }
            for ox in 0..<g.outputWidth where !(rowsInFrame && interior.contains(ox)) {
                var destination = row + ox &* rowLength
                let x0 = ox &* g.stride &- g.padLeft
                let rowInFrame = x0 >= 0 && x0 &+ g.kernelWidth <= g.inputWidth
                for ky in 0..<g.kernelHeight {
                    let iy = y0 &+ ky
                    if iy < 0 || iy >= g.inputHeight {
                        for index in 0..<runLength { destination[index] = 0 }
                    } else if rowInFrame {
                        // The window row is one contiguous run of kernelWidth * C floats.
                        let source = image + (iy &* g.inputWidth &+ x0) &* c
                        for index in 0..<runLength { destination[index] = source[index] }
                    } else {
                        for kx in 0..<g.kernelWidth {
                            let ix = x0 &+ kx
                            let target = destination + kx &* c
                            if ix < 0 || ix >= g.inputWidth {
                                for channel in 0..<c { target[channel] = 0 }
                            } else {
                                let source = image + (iy &* g.inputWidth &+ ix) &* c
                                for channel in 0..<c { target[channel] = source[channel] }
                            }
                        }
                    }
                    destination += runLength
                }
            }
            row += g.outputWidth &* rowLength
        }
    }

    /// Adds the im2col-layout gradient `columns` of output rows `outputRows` (global row `n * OH + oy` over the
    /// batch, `OW` matrix rows each) back into `inputGradient` (which the caller zeroes first), pixel after pixel.
    /// Pixels whose windows lie in frame add their window rows with `emovere_col2im_row` for `instructionSet`.
    public static func col2im(
        _ columns: UnsafePointer<Float>, geometry g: ConvolutionGeometry, outputRows: Range<Int>,
        into inputGradient: UnsafeMutablePointer<Float>, instructionSet: InstructionSet = .detected
    ) {
        let c = g.channels
        let rowLength = g.taps &* c
        let interior = interiorColumns(g)
        var row = columns
        for outputRow in outputRows {
            let n = outputRow / g.outputHeight
            let oy = outputRow &- n &* g.outputHeight
            let image = inputGradient + n &* g.inputSize
            let y0 = oy &* g.stride &- g.padTop
            let rowsInFrame = y0 >= 0 && y0 &+ g.kernelHeight <= g.inputHeight
            for ox in 0..<g.outputWidth {
                if rowsInFrame && ox == interior.lowerBound {
                    let first = image + (y0 &* g.inputWidth &+ ox &* g.stride &- g.padLeft) &* c
                    emovere_col2im_row(instructionSet.cValue, row + ox &* rowLength, g.inputWidth &* c, g.kernelHeight,
                                       g.kernelWidth &* c, g.stride &* c, interior.count, first)
                }
                if rowsInFrame && interior.contains(ox) { continue }
                var source = row + ox &* rowLength
                for ky in 0..<g.kernelHeight {
                    let iy = y0 &+ ky
                    if iy < 0 || iy >= g.inputHeight {
                        source += g.kernelWidth &* c
                        continue
                    }
                    for kx in 0..<g.kernelWidth {
                        let ix = ox &* g.stride &+ kx &- g.padLeft
                        if ix >= 0 && ix < g.inputWidth {
                            let destination = image + (iy &* g.inputWidth &+ ix) &* c
                            for channel in 0..<c {
                                destination[channel] += source[channel]
                            }
                        }
                        source += c
                    }
                }
            }
            row += g.outputWidth &* rowLength
        }
    }

    /// Rows of `a` and `dy` that `weightGradient` sums in registers before adding to the result: enough that the
    /// adding costs little (measured against 64 with `bench --training-only`), few enough that a 64-filter block of
    /// `dy` rows (64 KB) stays in the L2 cache while every block of `a`'s columns reads it.
    static let weightGradientTile = 256

    /// The weight gradient `out[k, F] = aᵀ · dy` from the im2col rows `a` `[rows, k]` (or a pointwise convolution's
    /// input) and the output gradient `dy` `[rows, F]`, without a BLAS copy of `a`: per tile of rows, blocks of 6 (or 12)
    /// columns of `a` x 64 (or one vector of) filters sum in registers (`emovere_outer_wide`/`emovere_outer_narrow`),
    /// rows in order, so the result is the same on every run.
    /// With `accumulating`, adds the product to `out` instead of overwriting it. With `bfloat16` (a CPU that runs it),
    /// the products take both operands rounded to bfloat16: on AMX tiles with `matrixTiles` (`TileWeightGradient`),
    /// else AVX512_BF16 (`bfloat16WeightGradient`).
    public static func weightGradient(
        _ a: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, rows: Int, columns k: Int, filters: Int,
        into out: UnsafeMutablePointer<Float>, accumulating: Bool = false, instructionSet: InstructionSet = .detected,
        precision: Precision = .float32, matrixTiles: Bool = Precision.usesMatrixTiles
    ) {
        if !accumulating { out.update(repeating: 0, count: k &* filters) }
        guard k > 0 else { return }
        if precision == .bfloat16 {
            precondition(precision.isSupported, "bfloat16 weight gradients need AVX512_BF16")
            guard matrixTiles else {
                return bfloat16WeightGradient(a, dy, rows: rows, columns: k, filters: filters, into: out)
            }
            let sums = TileWeightGradient(columns: k, filters: filters)
            sums.add(a, dy, rows: rows)
            return sums.finish(into: out)
        }
        let isa = instructionSet.cValue
        let wide = instructionSet.wideFilters
        let lanes = instructionSet.lanes
        var first = 0
        while first < rows {
            let count = min(weightGradientTile, rows &- first)
            let aTile = a + first &* k
            let dyTile = dy + first &* filters
            var f0 = 0
            while f0 < filters {
                let isWide = filters &- f0 >= wide
                let width = isWide ? wide : min(lanes, filters &- f0)
                let columnsPerBlock = isWide ? 6 : 12
                let narrowSet = instructionSet.narrow(forFilters: width).cValue
                var j = 0
                while j < k {
                    let valid = min(columnsPerBlock, k &- j)
                    let target = out + (j &* filters &+ f0)
                    if isWide {
                        emovere_outer_wide(isa, aTile + j, k, valid, dyTile + f0, filters, count, target, filters)
                    } else {
                        emovere_outer_narrow(narrowSet, aTile + j, k, valid, dyTile + f0, filters, width, count, target,
                                             filters)
                    }
                    j &+= columnsPerBlock
                }
                f0 &+= width
            }
            first &+= count
        }
    }

    /// `weightGradient` in bfloat16: per tile of rows, `a`'s and `dy`'s rows rounded and interleaved in pairs
    /// (`emovere_pack_bfloat16_pairs`, columns padded to 16), then blocks of 6 (or 12) columns of `a` x 64 (or 16)
    /// filters summed over the pairs in registers (`emovere_outer_wide_bf16`/`_narrow_bf16`), pairs in order.
    private static func bfloat16WeightGradient(
        _ a: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, rows: Int, columns k: Int, filters: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        let paddedColumns = (k + 15) / 16 * 16, paddedFilters = (filters + 15) / 16 * 16
        let tilePairs = (weightGradientTile + 1) / 2
        // A block reads up to 12 columns from its first: past the last pair's padded row by up to 11 pairs.
        let aCount = 2 * tilePairs * paddedColumns, slack = 24
        let aPairs = UnsafeMutablePointer<UInt16>.allocate(capacity: aCount + slack)
        (aPairs + aCount).initialize(repeating: 0, count: slack)
        let dyPairs = UnsafeMutablePointer<UInt16>.allocate(capacity: 2 * tilePairs * paddedFilters)
        defer {
            aPairs.deallocate()
            dyPairs.deallocate()
        }
        var first = 0
        while first < rows {
            let count = min(weightGradientTile, rows &- first)
            let pairs = (count + 1) / 2
            emovere_pack_bfloat16_pairs(a + first &* k, count, k, k, aPairs, paddedColumns)
            emovere_pack_bfloat16_pairs(dy + first &* filters, count, filters, filters, dyPairs, paddedFilters)
            var f0 = 0
            while f0 < filters {
                let isWide = filters &- f0 >= 64
                let width = isWide ? 64 : min(16, filters &- f0)
                let columnsPerBlock = isWide ? 6 : 12
                var j = 0
                while j < k {
                    let valid = min(columnsPerBlock, k &- j)
                    let (block, panel, target) = (aPairs + 2 &* j, dyPairs + 2 &* f0, out + (j &* filters &+ f0))
                    if isWide {
                        emovere_outer_wide_bf16(block, paddedColumns, valid, panel, paddedFilters, pairs, target, filters)
                    } else {
                        emovere_outer_narrow_bf16(block, paddedColumns, valid, panel, paddedFilters, width, pairs, target,
                                                  filters)
                    }
                    j &+= columnsPerBlock
                }
                f0 &+= width
            }
            first &+= count
        }
    }

    /// Output pixels whose im2col rows `forward` and `backward` make at a time (whole output rows, at least one):
    /// the matrix of a tile stays in cache instead of the batch's whole matrix going through memory.
    static let columnTile = 256

    /// Output rows of `g` per im2col tile.
    static func tileRows(_ g: ConvolutionGeometry) -> Int { max(1, columnTile / max(1, g.outputWidth)) }

    /// Forward pass: `output[N, OH, OW, F] = conv(input, kernel) + bias`, by im2col tiles and GEMM (`directForward`
    /// is faster where it applies; this path takes any window).
    ///
    /// - Parameters:
    ///   - input: `[N, H, W, C]`.
    ///   - kernel: `[KH, KW, C, F]`.
    ///   - bias: `[F]` or nil.
    ///   - relu: apply `max(·, 0)` after the bias (a fused ReLU).
    ///   - output: `[N, OH, OW, F]`.
    public static func forward(
        input: Tensor, kernel: Tensor, bias: Tensor?, geometry g: ConvolutionGeometry, relu: Bool = false,
        output: Tensor
    ) {
        let batch = input.shape[0]
        let filters = kernel.shape[kernel.shape.count - 1]
        let k = g.taps * g.channels
        precondition(kernel.count == k * filters, "kernel \(kernel.shape) does not match \(g)")
        precondition(output.count == batch * g.outputPixels * filters, "output \(output.shape) does not match \(g)")
        let inputPointer = UnsafeSendable(input.pointer)
        let kernelPointer = UnsafeSendable(kernel.pointer)
        let outputPointer = UnsafeSendable(output.pointer)
        let biasPointer = bias.map { UnsafeSendable($0.pointer) }
        // Split over output rows of the whole batch, so a single image also uses every core.
        let outputRows = batch * g.outputHeight
        let minimumRows = max(1, Parallel.elementwiseGrain / max(1, g.outputWidth * k))
        let tileRows = tileRows(g)
        Parallel.forEachChunk(outputRows, minimumChunk: minimumRows) { _, range in
            let tile = g.isPointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: tileRows * g.outputWidth * k)
            defer { tile?.deallocate() }
            var first = range.lowerBound
            while first < range.upperBound {
                let rows = min(tileRows, range.upperBound - first)
                let firstRow = first * g.outputWidth
                let a: UnsafePointer<Float>
                if let tile {
                    im2col(inputPointer.value, geometry: g, outputRows: first..<(first + rows), into: tile)
                    a = UnsafePointer(tile)
                } else {
                    a = UnsafePointer(inputPointer.value + firstRow * g.channels)
                }
                let out = outputPointer.value + firstRow * filters
                Gemm.multiply(a, kernelPointer.value, into: out, m: rows * g.outputWidth, n: filters, k: k)
                if biasPointer != nil || relu {
                    Elementwise.addBiasAndClamp(biasPointer?.value, to: out, rows: rows * g.outputWidth, columns: filters,
                                                relu: relu)
                }
                first += rows
            }
        }
    }

    /// Backward pass. The im2col rows are made again, a tile at a time, from `input`.
    ///
    /// - Parameters:
    ///   - outputGradient: `[N, OH, OW, F]`.
    ///   - input: `[N, H, W, C]` as given to `forward`.
    ///   - kernelGradient: `[KH, KW, C, F]`, overwritten.
    ///   - biasGradient: `[F]`, overwritten, or nil.
    ///   - inputGradient: `[N, H, W, C]`, overwritten; nil to skip (first layer).
    ///   - partials: `[chunks, KH*KW*C*F + F]` workspace for per-chunk weight gradients.
    ///   - transposedKernel: space for `Wᵀ` packed (`F` rows, `KH*KW*C` filters, in `inputGradientPrecision`),
    ///     refreshed here, or nil to make one. The input gradient `dY · Wᵀ` runs on the direct microkernels
    ///     (`directProduct`), not the BLAS; with a `bfloat16` kernel on `dY` rounded to bfloat16 into `scratch`.
    ///   - scratch: with a `bfloat16` `transposedKernel`, at least `(N*OH*OW*F + 1) / 2` floats; else unused.
    ///   - precision: the training pass's arithmetic: the input gradient's is `inputGradientPrecision` of it (the
    ///     `transposedKernel`'s), the weight gradient's `weightGradientPrecision`.
    public static func backward(
        outputGradient: Tensor, input: Tensor, kernel: Tensor, geometry g: ConvolutionGeometry,
        kernelGradient: Tensor, biasGradient: Tensor?, inputGradient: Tensor?, partials: Tensor,
        transposedKernel: PackedKernel? = nil, scratch: Tensor? = nil, precision: Precision = .float32
    ) {
        let batch = input.shape[0]
        let filters = kernel.shape[kernel.shape.count - 1]
        let k = g.taps * g.channels
        let productPrecision = inputGradientPrecision(precision, for: g, filters: filters)
        let transposed = inputGradient == nil ? nil
            : transposedKernel ?? PackedKernel(rows: filters, filters: k, precision: productPrecision)
        if let transposed {
            precondition(transposed.rows == filters && transposed.filters == k && transposed.precision == productPrecision,
                         "transposedKernel must be \(productPrecision) with \(filters) rows and \(k) filters")
            transposed.update(transposing: kernel)
        }
        let outerPrecision = weightGradientPrecision(precision, for: g, filters: filters)
        let roundedGradient = transposed?.precision == .bfloat16 ? rounded(outputGradient, scratch: scratch) : nil
        let partialSize = k * filters + filters
        let chunkCount = Parallel.chunks(batch, minimumChunk: g.minimumImagesPerChunk).count
        precondition(partials.count >= chunkCount * partialSize, "partials too small")
        let dy = UnsafeSendable(outputGradient.pointer)
        let x = UnsafeSendable(input.pointer)
        let wt = UnsafeSendable(transposed)
        let dx = inputGradient.map { UnsafeSendable($0.pointer) }
        let parts = UnsafeSendable(partials.pointer)
        let hasBias = biasGradient != nil
        let tileRows = tileRows(g)
        Parallel.forEachChunk(batch, minimumChunk: g.minimumImagesPerChunk) { chunk, images in
            let firstRow = images.lowerBound * g.outputPixels
            let part = parts.value + chunk * partialSize
            if hasBias {
                Elementwise.sumRows(dy.value + firstRow * filters, rows: images.count * g.outputPixels, columns: filters,
                                    into: part + k * filters)
            }
            if g.isPointwise {
                let rows = images.count * g.outputPixels
                let dyChunk = UnsafePointer(dy.value + firstRow * filters)
                let a = UnsafePointer(x.value + images.lowerBound * g.inputSize)
                weightGradient(a, dyChunk, rows: rows, columns: k, filters: filters, into: part, precision: outerPrecision)
                // dX[rows, C] = dY[rows, F] · Wᵀ[F, C]
                if let dx, let wt = wt.value {
                    directProduct(dyChunk, rows: rows, kernel: wt,
                                  roundedA: roundedGradient.map { $0.value + firstRow * filters },
                                  into: dx.value + images.lowerBound * g.inputSize)
                }
                return
            }
            part.update(repeating: 0, count: k * filters)
            dx?.value.advanced(by: images.lowerBound * g.inputSize).update(repeating: 0, count: images.count * g.inputSize)
            // On AMX tiles the tiles' sums stay transposed until the chunk's last tile (one transpose for all).
            let tileSums = outerPrecision == .bfloat16 && Precision.usesMatrixTiles
                ? TileWeightGradient(columns: k, filters: filters) : nil
            let tileCount = tileRows * g.outputWidth * k
            let columns = UnsafeMutablePointer<Float>.allocate(capacity: tileCount)
            let columnGradient = dx == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: tileCount)
            defer {
                columns.deallocate()
                columnGradient?.deallocate()
            }
            var first = images.lowerBound * g.outputHeight
            let end = images.upperBound * g.outputHeight
            while first < end {
                let rows = min(tileRows, end - first)
                let pixels = rows * g.outputWidth
                let dyTile = UnsafePointer(dy.value + first * g.outputWidth * filters)
                im2col(x.value, geometry: g, outputRows: first..<(first + rows), into: columns)
                if let tileSums {
                    tileSums.add(columns, dyTile, rows: pixels)
                } else {
                    weightGradient(columns, dyTile, rows: pixels, columns: k, filters: filters, into: part,
                                   accumulating: true, precision: outerPrecision)
                }
                if let dx, let columnGradient, let wt = wt.value {
                    // dcols[pixels, k] = dY[pixels, F] · Wᵀ[F, k], then added back into dX.
                    directProduct(dyTile, rows: pixels, kernel: wt,
                                  roundedA: roundedGradient.map { $0.value + first * g.outputWidth * filters },
                                  into: columnGradient)
                    col2im(columnGradient, geometry: g, outputRows: first..<(first + rows), into: dx.value)
                }
                first += rows
            }
            tileSums?.finish(into: part)
        }
        Elementwise.sumChunks(
            partials.pointer, chunkCount: chunkCount, chunkStride: partialSize, count: k * filters,
            into: kernelGradient.pointer)
        if let biasGradient {
            Elementwise.sumChunks(
                partials.pointer + k * filters, chunkCount: chunkCount, chunkStride: partialSize, count: filters,
                into: biasGradient.pointer)
        }
    }

    /// `tensor`'s values rounded to bfloat16 into `scratch` (at least `(count + 1) / 2` floats).
    private static func rounded(_ tensor: Tensor, scratch: Tensor?) -> UnsafeSendable<UnsafePointer<UInt16>> {
        guard let scratch, scratch.count >= (tensor.count + 1) / 2 else {
            preconditionFailure("a bfloat16 input gradient needs \((tensor.count + 1) / 2) floats of scratch")
        }
        return UnsafeSendable(roundedCopy(of: tensor.pointer, count: tensor.count, into: scratch.pointer))
    }
}
