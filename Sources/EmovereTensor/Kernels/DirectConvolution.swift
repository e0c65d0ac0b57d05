import CEmovereCPU
import EmovereCore

// Direct (im2col-free) dense convolution for inference, NHWC: register-blocked microkernels.
// input [N, H, W, C], kernel [KH, KW, C, F] (HWIO), output [N, OH, OW, F].
// Output pixels of the whole batch are one flat list, taken twelve at a time. Each pixel of a block
// gets a pointer to its window's top-left corner: into the input when every window of the block is in
// frame, else into zero-padded copies of the block's windows (padding). Blocks therefore cross rows
// and images freely, and no pixel is left to a slow tail loop.

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

    /// Forward pass without im2col (see `supportsDirectForward`): 6 pixels x `wideFilters` (or 12 pixels x
    /// 1 vector of filters) of accumulators stay in registers while each window is read once per filter panel; the
    /// microkernels are `emovere_conv_wide`/`emovere_conv_narrow` for the kernel's instruction set. Pixels are
    /// taken in tiles of up to 16 blocks, and each panel of weights is read once per tile.
    /// Same result as `forward` (inference only: `backward` needs the im2col matrix `forward` keeps).
    ///
    /// - Parameters: input `[N, H, W, C]`, kernel `[KH, KW, C, F]` packed, bias `[F]` or nil,
    ///   relu: apply `max(·, 0)` after the bias, output `[N, OH, OW, F]`.
    public static func directForward(
        input: Tensor, kernel: PackedKernel, bias: Tensor?, geometry g: ConvolutionGeometry, relu: Bool = false,
        output: Tensor
    ) {
        let batch = input.shape[0]
        let filters = kernel.filters
        precondition(supportsDirectForward(g, filters: filters), "directForward does not support \(g)")
        precondition(kernel.rows == g.taps * g.channels, "kernel of \(kernel.rows) rows does not match \(g)")
        precondition(output.count == batch * g.outputPixels * filters, "output \(output.shape) does not match \(g)")
        precondition(bias.map { $0.count == filters } ?? true, "bias does not match \(filters) filters")
        let isa = kernel.instructionSet.cValue
        let wide = kernel.instructionSet.wideFilters
        let panels = kernel.panels
        let weights = UnsafeSendable(kernel.values)
        let x = UnsafeSendable(input.pointer)
        let y = UnsafeSendable(output.pointer)
        let b = bias.map { UnsafeSendable($0.pointer) }
        let pixels = batch * g.outputPixels
        let floor: Float = relu ? 0 : -.infinity
        let runLength = g.kernelWidth * g.channels
        let blocks = (pixels + pixelBlock - 1) / pixelBlock
        let tileBlocks = WindowGatherer.tileBlocks(g)
        let tiles = (blocks + tileBlocks - 1) / tileBlocks
        // Few tiles (small feature maps, batch 1): split the panels into groups too, so every worker gets a share.
        // Work item = tile * groups + group.
        let groups = tiles >= 4 * Parallel.workerCount ? 1 : max(1, min(panels.count, (4 * Parallel.workerCount + tiles - 1) / tiles))
        let macsPerItem = min(blocks, tileBlocks) * pixelBlock * kernel.rows * filters / groups
        Parallel.forEachChunk(tiles * groups, minimumChunk: max(1, directGrain / max(1, macsPerItem))) { _, range in
            var gatherer = WindowGatherer(geometry: g, input: UnsafePointer(x.value),
                                          pixel: range.lowerBound / groups * tileBlocks * pixelBlock, capacity: tileBlocks)
            defer { gatherer.deallocate() }
            var gathered = -1
            for item in range {
                let tile = item / groups
                let group = item &- tile &* groups
                let firstBlock = tile &* tileBlocks
                let count = min(tileBlocks, blocks &- firstBlock)
                if tile != gathered {
                    for slot in 0..<count {
                        gatherer.gatherBlock(valid: min(pixelBlock, pixels &- (firstBlock &+ slot) &* pixelBlock), slot: slot)
                    }
                    gathered = tile
                }
                for panel in panels[(panels.count &* group / groups)..<(panels.count &* (group &+ 1) / groups)] {
                    let panelWeights = UnsafePointer(weights.value + panel.offset)
                    let start = b.map { UnsafePointer($0.value) + panel.first }
                    for slot in 0..<count {
                        let first = (firstBlock &+ slot) &* pixelBlock
                        let valid = min(pixelBlock, pixels &- first)
                        let corners = UnsafePointer(gatherer.corners + slot &* pixelBlock)
                        let rowStep = gatherer.rowSteps[slot]
                        let out = y.value + (first &* filters &+ panel.first)
                        if panel.width == wide {
                            emovere_conv_wide(isa, corners, rowStep, g.kernelHeight, runLength, panelWeights, wide, start,
                                              floor, min(6, valid), out, filters)
                            if valid > 6 {
                                emovere_conv_wide(isa, corners + 6, rowStep, g.kernelHeight, runLength, panelWeights, wide,
                                                  start, floor, valid &- 6, out + 6 &* filters, filters)
                            }
                        } else {
                            emovere_conv_narrow(isa, corners, rowStep, g.kernelHeight, runLength, panelWeights,
                                                panel.width, start, floor, valid, panel.valid, out, filters)
                        }
                    }
                }
            }
        }
    }
}

/// Walks output pixels of a batch in order and gives each pixel of a tile's blocks the top-left corner of its
/// window. A block whose windows are all in frame points into the input (rows `W*C` apart); a block
/// with a window across the border gets zero-padded copies of all its windows (rows `KW*C` apart).
struct WindowGatherer {
    let g: ConvolutionGeometry
    let input: UnsafePointer<Float>
    let runLength: Int
    let hasPadding: Bool
    /// 1x1 windows, stride 1, no padding: the input is the im2col matrix.
    let isFlat: Bool
    /// `[capacity * pixelBlock]` window corners of the tile's blocks.
    let corners: UnsafeMutablePointer<UnsafePointer<Float>?>
    /// `[capacity]` distances between window rows, per block.
    let rowSteps: UnsafeMutablePointer<Int>
    /// `[capacity * pixelBlock * KH * KW * C]` window copies for blocks that cross the border.
    let copies: UnsafeMutablePointer<Float>
    /// The current pixel: its index over the batch, its output row and column, and the input offset
    /// of its window's top-left corner (which may lie in the padding).
    var pixel: Int
    var row: Int
    var column: Int
    var offset: Int

    /// Whether some window of `g` crosses the border.
    static func hasPadding(_ g: ConvolutionGeometry) -> Bool {
        g.padTop > 0 || g.padLeft > 0 || (g.outputHeight - 1) * g.stride + g.kernelHeight > g.inputHeight
            || (g.outputWidth - 1) * g.stride + g.kernelWidth > g.inputWidth
    }

    /// Blocks per tile: 16, fewer where window copies would take more than 128 KB.
    static func tileBlocks(_ g: ConvolutionGeometry) -> Int {
        guard hasPadding(g) else { return 16 }
        return max(1, min(16, 32_768 / (Convolution.pixelBlock * g.taps * g.channels)))
    }

    init(geometry: ConvolutionGeometry, input: UnsafePointer<Float>, pixel: Int, capacity: Int) {
        g = geometry
        self.input = input
        runLength = g.kernelWidth * g.channels
        hasPadding = Self.hasPadding(g)
        isFlat = g.isPointwise && !hasPadding
        corners = .allocate(capacity: capacity * Convolution.pixelBlock)
        rowSteps = .allocate(capacity: capacity)
        copies = .allocate(capacity: hasPadding ? capacity * Convolution.pixelBlock * g.kernelHeight * runLength : 1)
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
        image &* g.inputSize &+ ((row &* g.stride &- g.padTop) &* g.inputWidth &+ column &* g.stride &- g.padLeft) &* g.channels
    }

    func deallocate() {
        corners.deallocate()
        rowSteps.deallocate()
        copies.deallocate()
    }

    /// Fills block `slot`'s corners for the next `valid` pixels (pixels past `valid` repeat the last one) and
    /// its distance between a window's rows.
    mutating func gatherBlock(valid: Int, slot: Int) {
        let corners = self.corners + slot &* Convolution.pixelBlock
        if isFlat {
            // 1x1 stride-1 windows without padding: pixel p's window is input element p * C.
            let first = input + pixel &* g.channels
            for index in 0..<Convolution.pixelBlock { corners[index] = first + min(index, valid &- 1) &* g.channels }
            pixel &+= valid
            rowSteps[slot] = g.channels
            return
        }
        let start = (pixel, row, column, offset)
        var inFrame = true
        for index in 0..<valid {
            if hasPadding { inFrame = inFrame && isInFrame }
            corners[index] = input + offset
            advance()
        }
        for index in valid..<Convolution.pixelBlock { corners[index] = corners[valid &- 1] }
        if inFrame {
            rowSteps[slot] = g.inputWidth &* g.channels
            return
        }
        (pixel, row, column, offset) = start
        let windowLength = g.kernelHeight &* runLength
        let copies = self.copies + slot &* Convolution.pixelBlock &* windowLength
        for index in 0..<valid {
            copyWindow(into: copies + index &* windowLength)
            corners[index] = UnsafePointer(copies + index &* windowLength)
            advance()
        }
        for index in valid..<Convolution.pixelBlock { corners[index] = corners[valid &- 1] }
        rowSteps[slot] = runLength
    }

    /// Whether the current pixel's window lies inside the frame.
    private var isInFrame: Bool {
        let iy0 = row &* g.stride &- g.padTop
        let ix0 = column &* g.stride &- g.padLeft
        return iy0 >= 0 && ix0 >= 0 && iy0 &+ g.kernelHeight <= g.inputHeight && ix0 &+ g.kernelWidth <= g.inputWidth
    }

    /// Copies the current pixel's window, zeros outside the frame, as `KH` rows of `KW*C` values.
    private func copyWindow(into copy: UnsafeMutablePointer<Float>) {
        let iy0 = row &* g.stride &- g.padTop
        let ix0 = column &* g.stride &- g.padLeft
        let imageStart = input + (pixel / g.outputPixels) &* g.inputSize
        // The columns of each window row inside the frame: one contiguous run of the input.
        let kxStart = max(0, -ix0)
        let kxEnd = max(kxStart, min(g.kernelWidth, g.inputWidth &- ix0))
        let runStart = kxStart &* g.channels
        let runEnd = kxEnd &* g.channels
        for ky in 0..<g.kernelHeight {
            let iy = iy0 &+ ky
            let destination = copy + ky &* runLength
            guard iy >= 0 && iy < g.inputHeight && runEnd > runStart else {
                Self.fill(destination, count: runLength)
                continue
            }
            Self.fill(destination, count: runStart)
            Self.copy(imageStart + ((iy &* g.inputWidth &+ ix0) &* g.channels &+ runStart), to: destination + runStart,
                      count: runEnd &- runStart)
            Self.fill(destination + runEnd, count: runLength &- runEnd)
        }
    }

    /// Short runs (a few single-channel taps) element by element: a library call costs more than the copy.
    @inline(__always) private static func copy(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>,
                                               count: Int) {
        if count > 16 {
            target.update(from: source, count: count)
        } else {
            for index in 0..<count { target[index] = source[index] }
        }
    }

    @inline(__always) private static func fill(_ target: UnsafeMutablePointer<Float>, count: Int) {
        if count > 16 {
            target.update(repeating: 0, count: count)
        } else {
            for index in 0..<count { target[index] = 0 }
        }
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
