import CEmovereCPU
import EmovereCore

// Direct (im2col-free) dense convolution, NHWC: register-blocked microkernels.
// input [N, H, W, C], kernel [KH, KW, C, F] (HWIO), output [N, OH, OW, F].
// Output pixels of the whole batch are one flat list, taken twelve at a time. Each pixel of a block
// gets a pointer to its window's top-left corner in the input, or, when the convolution pads, in a copy
// of the input inside a zero frame made once per call. Blocks therefore cross rows and images freely,
// and no pixel is left to a slow tail loop.

extension Convolution {
    /// True when `directForward` handles the geometry: windows of at most 1,152 values (`KH*KW*C`),
    /// any stride, padding and number of filters.
    public static func supportsDirectForward(_ g: ConvolutionGeometry, filters: Int) -> Bool {
        g.taps * g.channels <= maximumDirectWindow && filters > 0
    }

    /// The largest window (`KH*KW*C`) `directForward` takes: 3x3x128.
    static let maximumDirectWindow = 1152

    /// Multiply-adds below which a direct convolution is not split over workers.
    static let directGrain = 24_576

    /// Output pixels per block: two 6-pixel halves for wide filter panels, all 12 for narrow (one-vector) ones.
    static let pixelBlock = 12

    /// Pixel blocks per tile: each panel of weights is read once per tile.
    static let tileBlocks = 16

    /// Floats of `scratch` that `directForward` needs for `batch` images of `g`: the input inside its zero frame
    /// when the convolution pads, then, with a `bfloat16` kernel, that input's bfloat16 copy (two values per float).
    public static func directScratchCount(_ g: ConvolutionGeometry, batch: Int, precision: Precision = .float32) -> Int {
        let framed = g.framed.map { batch * $0.inputSize } ?? 0
        guard precision == .bfloat16 else { return framed }
        return framed + (batch * (g.framed ?? g).inputSize + 1) / 2
    }

    /// Whether a kernel for `g` can be packed in `precision`: bfloat16 kernels read each window's runs (`KW * C`
    /// values) in pairs, on CPUs that run them.
    public static func supportsDirectForward(_ g: ConvolutionGeometry, precision: Precision) -> Bool {
        precision == .float32 || (precision.isSupported && (g.kernelWidth * g.channels) % 2 == 0)
    }

    /// The precision a frozen layer of `filters` filters runs when `precision` is asked for: `precision` where the
    /// layer supports it (`supportsDirectForward(_:precision:)`) and has at least `bfloat16MinimumFilters` filters,
    /// else `float32`. bfloat16 rounds the input in a pass of its own, which narrower layers (fewer multiply-adds per
    /// rounded value) do not earn back.
    public static func directPrecision(_ precision: Precision, for g: ConvolutionGeometry, filters: Int) -> Precision {
        supportsDirectForward(g, precision: precision) && (precision == .float32 || filters >= bfloat16MinimumFilters)
            ? precision : .float32
    }

    /// The precision a training layer's input gradient `dY · Wᵀ` (`backward`'s `transposedKernel`) runs when
    /// `precision` is asked for: the product reads runs of the layer's `filters` gradients and makes `KH*KW*C`
    /// outputs, so `precision` where `filters` is even and the outputs are at least `bfloat16MinimumFilters`.
    public static func inputGradientPrecision(_ precision: Precision, for g: ConvolutionGeometry, filters: Int)
        -> Precision {
        precision == .float32 || (precision.isSupported && filters % 2 == 0
                                  && g.taps * g.channels >= bfloat16MinimumFilters) ? precision : .float32
    }

    /// The precision a training layer's weight gradient (`weightGradient`) runs when `precision` is asked for:
    /// `precision` where the layer has at least `bfloat16MinimumFilters` filters and window values (`KH*KW*C`), so
    /// the rounding of both operands is earned back.
    public static func weightGradientPrecision(_ precision: Precision, for g: ConvolutionGeometry, filters: Int)
        -> Precision {
        precision == .float32 || (precision.isSupported && filters >= bfloat16MinimumFilters
                                  && g.taps * g.channels >= bfloat16MinimumFilters) ? precision : .float32
    }

    /// The fewest filters a layer runs in bfloat16 with: mini-Xception at batch 1 ran 20-25 % slower in bfloat16
    /// when its 8- and 16-filter layers took it too.
    public static let bfloat16MinimumFilters = 32

    /// Forward pass without im2col (see `supportsDirectForward`): 6 pixels x `wideFilters` (or 12 pixels x
    /// 1 vector of filters) of accumulators stay in registers while each window is read once per filter panel; the
    /// microkernels are `emovere_conv_wide`/`emovere_conv_narrow` for the kernel's instruction set. Pixels are
    /// taken in tiles of up to 16 blocks, and each panel of weights is read once per tile. One-channel input at stride 1
    /// (a first layer) goes a row at a time instead (`emovere_conv_single_channel`: the same sums).
    /// Same result as `forward` up to rounding (`backward` makes the im2col rows it needs, so training takes it too);
    /// with a `bfloat16` kernel the input is rounded to bfloat16 first (into `scratch`) and the products are of
    /// bfloat16 values.
    ///
    /// - Parameters: input `[N, H, W, C]`, kernel `[KH, KW, C, F]` packed, bias `[F]` or nil,
    ///   relu: apply `max(·, 0)` after the bias, output `[N, OH, OW, F]`, scratch: at least
    ///   `directScratchCount(geometry, batch: N)` floats (nil when that is 0).
    public static func directForward(
        input: Tensor, kernel: PackedKernel, bias: Tensor?, geometry: ConvolutionGeometry, relu: Bool = false,
        output: Tensor, scratch: Tensor?
    ) {
        let batch = input.shape[0]
        let filters = kernel.filters
        precondition(supportsDirectForward(geometry, filters: filters), "directForward does not support \(geometry)")
        precondition(kernel.rows == geometry.taps * geometry.channels,
                     "kernel of \(kernel.rows) rows does not match \(geometry)")
        precondition(output.count == batch * geometry.outputPixels * filters,
                     "output \(output.shape) does not match \(geometry)")
        precondition(bias.map { $0.count == filters } ?? true, "bias does not match \(filters) filters")
        let scratchCount = directScratchCount(geometry, batch: batch, precision: kernel.precision)
        precondition((scratch?.count ?? 0) >= scratchCount,
                     "directForward needs \(scratchCount) floats of scratch for \(geometry)")
        precondition(supportsDirectForward(geometry, precision: kernel.precision),
                     "a \(kernel.precision) kernel does not support \(geometry)")
        precondition(!kernel.hasPairedPanels || (geometry.kernelWidth * geometry.channels) % 2 == 0,
                     "a kernel packed in row pairs needs window runs of even length, not \(geometry)")
        if batch * geometry.outputPixels == 0 { return } // no output pixel (an empty batch): nothing to split
        let framed = geometry.framed
        if let framed, let scratch { frame(input, geometry: geometry, framed: framed, into: scratch.pointer) }
        let source = framed != nil ? scratch!.pointer : input.pointer
        let g = framed ?? geometry
        if g.channels == 1 && g.stride == 1 && kernel.precision == .float32 && !kernel.hasPairedPanels
            && g.taps <= Int(EMOVERE_SINGLE_CHANNEL_TAPS) {
            return singleChannelForward(UnsafePointer(source), batch: batch, kernel: kernel, bias: bias, geometry: g,
                                        relu: relu, output: output)
        }
        let halves = kernel.precision == .bfloat16 ? roundedCopy(
            of: UnsafePointer(source), count: batch * g.inputSize,
            into: scratch!.pointer + (framed.map { batch * $0.inputSize } ?? 0)) : nil
        let panels = kernel.panels
        let weights = UnsafeSendable(kernel.microkernelWeights)
        let rounded = halves.map { UnsafeSendable((origin: UnsafePointer(source), input: $0)) }
        let x = UnsafeSendable(source)
        let y = UnsafeSendable(output.pointer)
        let b = bias.map { UnsafeSendable($0.pointer) }
        let pixels = batch * g.outputPixels
        let floor: Float = relu ? 0 : -.infinity
        let runLength = g.kernelWidth * g.channels
        let blocks = (pixels + pixelBlock - 1) / pixelBlock
        // Few tiles (small feature maps, batch 1): split the panels into groups too, and where there are too few
        // panels for that (one panel of 64 filters), shorten the tiles, so every worker gets a share.
        // Work item = tile * groups + group.
        let items = 4 * Parallel.availableWorkers
        let fullTiles = (blocks + tileBlocks - 1) / tileBlocks
        let groups = fullTiles >= items ? 1 : max(1, min(panels.count, (items + fullTiles - 1) / fullTiles))
        let blocksPerTile = fullTiles * groups >= items ? tileBlocks : max(1, min(tileBlocks, blocks * groups / items))
        let tiles = (blocks + blocksPerTile - 1) / blocksPerTile
        let macsPerItem = min(blocks, blocksPerTile) * pixelBlock * kernel.rows * filters / groups
        Parallel.forEachChunk(tiles * groups, minimumChunk: max(1, directGrain / max(1, macsPerItem))) { _, range in
            var gatherer = WindowGatherer(geometry: g, input: UnsafePointer(x.value),
                                          pixel: range.lowerBound / groups * blocksPerTile * pixelBlock)
            defer { gatherer.deallocate() }
            var gathered = -1
            for item in range {
                let tile = item / groups
                let group = item &- tile &* groups
                let firstBlock = tile &* blocksPerTile
                let count = min(blocksPerTile, blocks &- firstBlock)
                if tile != gathered {
                    for slot in 0..<count {
                        gatherer.gatherBlock(valid: min(pixelBlock, pixels &- (firstBlock &+ slot) &* pixelBlock), slot: slot)
                    }
                    gathered = tile
                }
                for panel in panels[(panels.count &* group / groups)..<(panels.count &* (group &+ 1) / groups)] {
                    let start = b.map { UnsafePointer($0.value) + panel.first }
                    for slot in 0..<count {
                        let first = (firstBlock &+ slot) &* pixelBlock
                        weights.value.multiply(
                            UnsafePointer(gatherer.corners + slot &* pixelBlock), valid: min(pixelBlock, pixels &- first),
                            rowStep: g.inputWidth &* g.channels, kernelHeight: g.kernelHeight, runLength: runLength,
                            panel: panel, bias: start, floor: floor, rounded: rounded?.value,
                            out: y.value + (first &* filters &+ panel.first), outStride: filters)
                    }
                }
            }
        }
    }
}

extension Convolution {
    /// `out[rows, F] = a[rows, K] · W` on the calling thread, `W` being `kernel` (`K` rows, `F` filters): the
    /// direct microkernels on a plain matrix (each row of `a` a 1x1 window), in tiles of `tileBlocks` blocks of
    /// `pixelBlock` rows with each panel of weights read once per tile. The backward pass's `dY · Wᵀ`. A `bfloat16`
    /// kernel reads `a`'s values from `roundedA`, their bfloat16 copy in the same layout.
    static func directProduct(_ a: UnsafePointer<Float>, rows: Int, kernel: PackedKernel,
                              roundedA: UnsafePointer<UInt16>? = nil, into out: UnsafeMutablePointer<Float>) {
        precondition((kernel.precision == .bfloat16) == (roundedA != nil),
                     "directProduct takes a rounded copy of a with a bfloat16 kernel, and only then")
        let rounded = roundedA.map { (origin: a, input: $0) }
        let k = kernel.rows, filters = kernel.filters
        let weights = kernel.microkernelWeights
        // On the stack: the backward pass calls this once per tile.
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: tileBlocks * pixelBlock) { buffer in
            let corners = buffer.baseAddress!
            var tileStart = 0
            while tileStart < rows {
                let tileRows = min(tileBlocks * pixelBlock, rows - tileStart)
                for index in 0..<((tileRows + pixelBlock - 1) / pixelBlock * pixelBlock) {
                    corners[index] = a + (tileStart + min(index, tileRows - 1)) * k
                }
                for panel in kernel.panels {
                    for first in stride(from: 0, to: tileRows, by: pixelBlock) {
                        weights.multiply(UnsafePointer(corners + first), valid: min(pixelBlock, tileRows - first),
                                         rowStep: 0, kernelHeight: 1, runLength: k, panel: panel, bias: nil,
                                         floor: -.infinity, rounded: rounded,
                                         out: out + (tileStart + first) * filters + panel.first, outStride: filters)
                    }
                }
                tileStart += tileRows
            }
        }
    }

    /// `count` floats at `source` rounded to bfloat16 into the scratch at `target` (split over the workers when
    /// large): the input a `bfloat16` kernel reads.
    static func roundedCopy(of source: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>)
        -> UnsafePointer<UInt16> {
        let halves = UnsafeMutableRawPointer(target).bindMemory(to: UInt16.self, capacity: count)
        let from = UnsafeSendable(source)
        let to = UnsafeSendable(halves)
        Parallel.forEachChunk(count, minimumChunk: roundingGrain) { _, range in
            emovere_to_bfloat16(from.value + range.lowerBound, to.value + range.lowerBound, range.count)
        }
        return UnsafePointer(halves)
    }

    /// Values below which rounding to bfloat16 is not split over workers.
    static let roundingGrain = 8_192
}

extension Convolution {
    /// `directForward` for one-channel input at stride 1 (a network's first layer), windows in frame: whole output
    /// rows per `emovere_conv_single_channel` call, rows split over the workers; the same sums as the block kernels,
    /// bit for bit, without their window corners per 12 pixels (which for 9 taps cost more than the arithmetic).
    private static func singleChannelForward(
        _ source: UnsafePointer<Float>, batch: Int, kernel: PackedKernel, bias: Tensor?,
        geometry g: ConvolutionGeometry, relu: Bool, output: Tensor
    ) {
        let isa = kernel.instructionSet.cValue
        let x = UnsafeSendable(source)
        let weights = UnsafeSendable(UnsafePointer(kernel.values))
        let b = bias.map { UnsafeSendable(UnsafePointer($0.pointer)) }
        let y = UnsafeSendable(output.pointer)
        let floor: Float = relu ? 0 : -.infinity
        let filters = kernel.filters
        let panels = kernel.panels
        let rowLength = g.outputWidth &* filters
        let minimumRows = max(1, directGrain / max(1, rowLength &* g.taps))
        Parallel.forEachChunk(batch &* g.outputHeight, minimumChunk: minimumRows) { _, range in
            // The chunk's rows image by image: one call per image and panel.
            var item = range.lowerBound
            while item < range.upperBound {
                let n = item / g.outputHeight
                let top = item &- n &* g.outputHeight
                let rows = min(range.upperBound, (n &+ 1) &* g.outputHeight) &- item
                let input = x.value + (n &* g.inputSize &+ top &* g.inputWidth)
                for panel in panels {
                    emovere_conv_single_channel(
                        isa, input, g.inputWidth, rows, g.kernelHeight, g.kernelWidth, g.outputWidth,
                        weights.value + panel.offset, panel.width, panel.valid, b.map { $0.value + panel.first }, floor,
                        y.value + (item &* rowLength &+ panel.first), filters)
                }
                item &+= rows
            }
        }
    }
}

/// A packed kernel's values as the microkernels read them (plain pointers, so a parallel job can carry them).
struct MicrokernelWeights {
    let instructionSet: InstructionSet
    let precision: Precision
    let usesMatrixTiles: Bool
    let values: UnsafePointer<Float>
    let halves: UnsafePointer<UInt16>

    /// One block of up to `Convolution.pixelBlock` output pixels (the first `valid` stored; windows of
    /// `kernelHeight` runs of `runLength` values, `rowStep` apart, at `corners`) x `panel`'s filters, into `out` (pixels
    /// `outStride` apart): a wide panel in two halves of 6 pixels (on AMX tiles at once), a narrow one at once. A
    /// `bfloat16` kernel reads the windows from `rounded.input`, the bfloat16 copy of the floats at `rounded.origin`
    /// that `corners` point into.
    @inline(__always)
    func multiply(_ corners: UnsafePointer<UnsafePointer<Float>?>, valid: Int, rowStep: Int, kernelHeight: Int,
                  runLength: Int, panel: PackedKernel.Panel, bias: UnsafePointer<Float>?, floor: Float,
                  rounded: (origin: UnsafePointer<Float>, input: UnsafePointer<UInt16>)?,
                  out: UnsafeMutablePointer<Float>, outStride: Int) {
        let isWide = panel.width == instructionSet.wideFilters
        if precision == .bfloat16, let rounded {
            let weights = halves + panel.offset
            guard isWide else {
                return emovere_conv_narrow_bf16(corners, rounded.origin, rounded.input, rowStep, kernelHeight, runLength,
                                                weights, bias, floor, valid, panel.valid, out, outStride)
            }
            if usesMatrixTiles {
                return emovere_conv_wide_amx(corners, rounded.origin, rounded.input, rowStep, kernelHeight, runLength,
                                             weights, bias, floor, valid, out, outStride)
            }
            for half in stride(from: 0, to: valid, by: 6) {
                emovere_conv_wide_bf16(corners + half, rounded.origin, rounded.input, rowStep, kernelHeight, runLength,
                                       weights, bias, floor, min(6, valid &- half), out + half &* outStride, outStride)
            }
            return
        }
        let weights = values + panel.offset
        if panel.isPaired {
            return emovere_conv_paired(instructionSet.cValue, corners, rowStep, kernelHeight, runLength, weights, bias,
                                       floor, valid, panel.valid, out, outStride)
        }
        guard isWide else {
            return emovere_conv_narrow(instructionSet.narrow(forFilters: panel.valid).cValue, corners, rowStep,
                                       kernelHeight, runLength, weights, panel.width, bias, floor, valid, panel.valid,
                                       out, outStride)
        }
        for half in stride(from: 0, to: valid, by: 6) {
            emovere_conv_wide(instructionSet.cValue, corners + half, rowStep, kernelHeight, runLength, weights,
                              panel.width, bias, floor, min(6, valid &- half), out + half &* outStride, outStride)
        }
    }
}

extension PackedKernel {
    /// The values as the microkernels read them.
    var microkernelWeights: MicrokernelWeights {
        MicrokernelWeights(instructionSet: instructionSet, precision: precision, usesMatrixTiles: usesMatrixTiles,
                           values: UnsafePointer(values), halves: UnsafePointer(halves))
    }
}

/// Walks output pixels of a batch in order and gives each pixel of a tile's blocks the top-left corner of its
/// window (every window in frame: rows `W*C` apart).
struct WindowGatherer {
    let g: ConvolutionGeometry
    let input: UnsafePointer<Float>
    /// 1x1 windows, stride 1: the input is the im2col matrix.
    let isFlat: Bool
    /// `[tileBlocks * pixelBlock]` window corners of the tile's blocks.
    let corners: UnsafeMutablePointer<UnsafePointer<Float>?>
    /// The current pixel: its index over the batch, its output row and column, and the input offset
    /// of its window's top-left corner.
    var pixel: Int
    var row: Int
    var column: Int
    var offset: Int

    init(geometry: ConvolutionGeometry, input: UnsafePointer<Float>, pixel: Int) {
        precondition(geometry.framed == nil, "WindowGatherer takes windows in frame")
        g = geometry
        self.input = input
        isFlat = g.isPointwise
        corners = .allocate(capacity: Convolution.tileBlocks * Convolution.pixelBlock)
        self.pixel = pixel
        let image = pixel / g.outputPixels
        let rest = pixel - image * g.outputPixels
        row = rest / g.outputWidth
        column = rest - row * g.outputWidth
        offset = 0
        offset = cornerOffset(image: image)
    }

    /// The input offset of the current pixel's window corner, for `image`.
    private func cornerOffset(image: Int) -> Int {
        image &* g.inputSize &+ (row &* g.stride &* g.inputWidth &+ column &* g.stride) &* g.channels
    }

    func deallocate() {
        corners.deallocate()
    }

    /// Fills block `slot`'s corners for the next `valid` pixels (pixels past `valid` repeat the last one).
    mutating func gatherBlock(valid: Int, slot: Int) {
        let corners = self.corners + slot &* Convolution.pixelBlock
        if isFlat {
            // 1x1 stride-1 windows: pixel p's window is input element p * C.
            let first = input + pixel &* g.channels
            for index in 0..<Convolution.pixelBlock { corners[index] = first + min(index, valid &- 1) &* g.channels }
            pixel &+= valid
            return
        }
        for index in 0..<valid {
            corners[index] = input + offset
            advance()
        }
        for index in valid..<Convolution.pixelBlock { corners[index] = corners[valid &- 1] }
    }

    @inline(__always) mutating func advance() {
        pixel &+= 1
        column &+= 1
        offset &+= g.stride &* g.channels
        if column == g.outputWidth {
            column = 0
            row &+= 1
            if row == g.outputHeight { row = 0 }
            offset = cornerOffset(image: pixel / g.outputPixels)
        }
    }
}

extension Convolution {
    /// Copies each image of `input` (`geometry`) into `framed`'s larger image, `padTop` rows down and `padLeft`
    /// columns right, zeros around: `[N, H', W', C]` at `output`.
    static func frame(_ input: Tensor, geometry g: ConvolutionGeometry, framed: ConvolutionGeometry,
                      into output: UnsafeMutablePointer<Float>) {
        let batch = input.shape[0]
        let x = UnsafeSendable(input.pointer)
        let y = UnsafeSendable(output)
        let rowLength = framed.inputWidth &* g.channels
        let left = min(g.padLeft, framed.inputWidth) &* g.channels
        let copied = max(0, min(g.inputWidth, framed.inputWidth &- g.padLeft)) &* g.channels
        // Rows of all images as one list, so a single image is framed by every worker too.
        let rows = batch &* framed.inputHeight
        Parallel.forEachChunk(rows, minimumChunk: max(1, Parallel.elementwiseGrain / max(1, rowLength))) { _, range in
            for item in range {
                let n = item / framed.inputHeight, row = item &- n &* framed.inputHeight
                let image = UnsafePointer(x.value) + n &* g.inputSize
                let destination = y.value + n &* framed.inputSize + row &* rowLength
                let sourceRow = row &- g.padTop
                guard sourceRow >= 0 && sourceRow < g.inputHeight else {
                    destination.update(repeating: 0, count: rowLength)
                    continue
                }
                destination.update(repeating: 0, count: left)
                destination.advanced(by: left).update(from: image + sourceRow &* g.inputWidth &* g.channels, count: copied)
                destination.advanced(by: left &+ copied).update(repeating: 0, count: rowLength &- left &- copied)
            }
        }
    }
}

extension Convolution {
    /// A convolution followed by global average pooling, for inference: since both are linear,
    /// `mean_p(conv(x)[p]) = mean_p(window(x, p)) · W + b`, one matrix-vector product per image on the
    /// mean window instead of one per output pixel.
    ///
    /// - Parameters: input `[N, H, W, C]`, kernel `[KH, KW, C, F]`, bias `[F]` or nil, output `[N, F]`
    ///   (any shape of `N * F` values). No ReLU may come between the convolution and the pooling.
    public static func averagedForward(
        input: Tensor, kernel: Tensor, bias: Tensor?, geometry g: ConvolutionGeometry, output: Tensor
    ) {
        let batch = input.shape[0]
        let filters = kernel.shape[kernel.shape.count - 1]
        let k = g.taps * g.channels
        precondition(kernel.count == k * filters, "kernel \(kernel.shape) does not match \(g)")
        precondition(output.count == batch * filters, "output \(output.shape) does not match [\(batch), \(filters)]")
        let x = UnsafeSendable(input.pointer)
        let w = UnsafeSendable(kernel.pointer)
        let y = UnsafeSendable(output.pointer)
        let b = bias.map { UnsafeSendable($0.pointer) }
        let scale = 1 / Float(max(1, g.outputPixels))
        Parallel.forEachChunk(batch, minimumChunk: max(1, directGrain / max(1, k * (filters + g.outputPixels)))) { _, images in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { buffer in
                let mean = buffer.baseAddress!
                for n in images {
                    // mean[tap, c] = average over output pixels of the input under that tap (zero outside).
                    let image = UnsafePointer(x.value) + n &* g.inputSize
                    mean.update(repeating: 0, count: k)
                    for oy in 0..<g.outputHeight {
                        let (y0, kyStart, kyEnd) = g.rowWindow(oy)
                        for ox in 0..<g.outputWidth {
                            let (x0, kxStart, kxEnd) = g.columnWindow(ox)
                            for ky in kyStart..<kyEnd {
                                for kx in kxStart..<kxEnd {
                                    let source = image + ((y0 &+ ky) &* g.inputWidth &+ x0 &+ kx) &* g.channels
                                    let target = mean + (ky &* g.kernelWidth &+ kx) &* g.channels
                                    var channel = 0
                                    while channel &+ 8 <= g.channels {
                                        store8(load8(target + channel) + load8(source + channel), target + channel)
                                        channel &+= 8
                                    }
                                    while channel < g.channels {
                                        target[channel] += source[channel]
                                        channel &+= 1
                                    }
                                }
                            }
                        }
                    }
                    // out[f0 ..< f0+8] = b + scale * Σ_row mean[row] * W[row, f0 ..< f0+8]; eight-wide rows
                    // read past the last filter into the next row (ignored lanes) except on the last row.
                    let out = y.value + n &* filters
                    var f0 = 0
                    while f0 < filters {
                        let lanes = min(8, filters &- f0)
                        var sum = SIMD8<Float>()
                        var row = 0
                        while row < k && (lanes == 8 || row &* filters &+ f0 &+ 8 <= k &* filters) {
                            sum += SIMD8(repeating: mean[row]) * load8(UnsafePointer(w.value) + (row &* filters &+ f0))
                            row &+= 1
                        }
                        while row < k {
                            for lane in 0..<lanes { sum[lane] += mean[row] * w.value[row &* filters &+ f0 &+ lane] }
                            row &+= 1
                        }
                        for lane in 0..<lanes { out[f0 &+ lane] = (b?.value[f0 &+ lane] ?? 0) + scale * sum[lane] }
                        f0 &+= 8
                    }
                }
            }
        }
    }
}
