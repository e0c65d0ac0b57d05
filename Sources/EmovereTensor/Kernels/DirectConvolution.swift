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

    /// Output pixels per block: two 6-pixel halves for wide (two-vector) filter blocks, all 12 for narrow ones.
    static let pixelBlock = 12

    /// Forward pass without im2col (see `supportsDirectForward`): 6 pixels x 2 vectors of filters (or 12 pixels x
    /// 1 vector) of accumulators stay in registers while each window is read once per filter block; the
    /// microkernels are `emovere_conv_wide`/`emovere_conv_narrow` for `instructionSet`.
    /// Same result as `forward` (inference only: `backward` needs the im2col matrix `forward` keeps).
    ///
    /// - Parameters: input `[N, H, W, C]`, kernel `[KH, KW, C, F]`, bias `[F]` or nil,
    ///   relu: apply `max(·, 0)` after the bias, output `[N, OH, OW, F]`.
    public static func directForward(
        input: Tensor, kernel: Tensor, bias: Tensor?, geometry g: ConvolutionGeometry, relu: Bool = false,
        output: Tensor, instructionSet: InstructionSet = .detected
    ) {
        let batch = input.shape[0]
        let filters = kernel.shape[kernel.shape.count - 1]
        precondition(supportsDirectForward(g, filters: filters), "directForward does not support \(g)")
        precondition(kernel.count == g.taps * g.channels * filters, "kernel \(kernel.shape) does not match \(g)")
        precondition(output.count == batch * g.outputPixels * filters, "output \(output.shape) does not match \(g)")
        let k = g.taps * g.channels
        let lanes = instructionSet.lanes
        let isa = instructionSet.cValue
        let tailFilters = filters % lanes
        // The last filters % lanes filters use a copy of their weights padded to a whole vector.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: tailFilters == 0 ? 1 : k * lanes) { tailBuffer in
            let tail = tailBuffer.baseAddress!
            if tailFilters > 0 {
                let first = filters - tailFilters
                for row in 0..<k {
                    for lane in 0..<lanes {
                        tail[row * lanes + lane] = lane < tailFilters ? kernel.pointer[row * filters + first + lane] : 0
                    }
                }
            }
            let tailWeights = UnsafeSendable(tail)
            let x = UnsafeSendable(input.pointer)
            let w = UnsafeSendable(kernel.pointer)
            let y = UnsafeSendable(output.pointer)
            let b = bias.map { UnsafeSendable($0.pointer) }
            let pixels = batch * g.outputPixels
            let floor: Float = relu ? 0 : -.infinity
            let runLength = g.kernelWidth * g.channels
            let blocks = (pixels + pixelBlock - 1) / pixelBlock
            // Few pixel blocks (small feature maps, batch 1): split the wide filter blocks into groups too,
            // so every worker gets a share. Work item = block * groups + group.
            let wide = 2 * lanes
            let wideBlocks = filters / wide
            let groups = blocks >= 4 * Parallel.workerCount ? 1 : max(1, min(wideBlocks, (4 * Parallel.workerCount) / blocks))
            let macsPerItem = pixelBlock * k * filters / groups
            Parallel.forEachChunk(blocks * groups, minimumChunk: max(1, directGrain / max(1, macsPerItem))) { _, range in
                var gatherer = WindowGatherer(geometry: g, input: UnsafePointer(x.value),
                                              pixel: range.lowerBound / groups * pixelBlock)
                defer { gatherer.deallocate() }
                var gathered = -1
                var rowStep = 0
                for item in range {
                    let block = item / groups
                    let group = item &- block &* groups
                    let first = block &* pixelBlock
                    let valid = min(pixelBlock, pixels &- first)
                    if block != gathered {
                        rowStep = gatherer.gatherBlock(valid: valid)
                        gathered = block
                    }
                    let corners = UnsafePointer(gatherer.corners)
                    let out = y.value + first &* filters
                    var f0 = wide &* (wideBlocks &* group / groups)
                    let end = wide &* (wideBlocks &* (group &+ 1) / groups)
                    while f0 < end {
                        let weights = UnsafePointer(w.value) + f0
                        let start = b.map { UnsafePointer($0.value) + f0 }
                        emovere_conv_wide(isa, corners, rowStep, g.kernelHeight, runLength, weights, filters, start,
                                          floor, min(6, valid), out + f0, filters)
                        if valid > 6 {
                            emovere_conv_wide(isa, corners + 6, rowStep, g.kernelHeight, runLength, weights, filters,
                                              start, floor, valid &- 6, out + (6 &* filters &+ f0), filters)
                        }
                        f0 &+= wide
                    }
                    guard group == groups &- 1 else { continue }
                    if f0 &+ lanes <= filters {
                        emovere_conv_narrow(isa, corners, rowStep, g.kernelHeight, runLength, UnsafePointer(w.value) + f0,
                                            filters, b.map { UnsafePointer($0.value) + f0 }, floor, valid, lanes,
                                            out + f0, filters)
                        f0 &+= lanes
                    }
                    if f0 < filters {
                        emovere_conv_narrow(isa, corners, rowStep, g.kernelHeight, runLength,
                                            UnsafePointer(tailWeights.value), lanes, b.map { UnsafePointer($0.value) + f0 },
                                            floor, valid, filters &- f0, out + f0, filters)
                    }
                }
            }
        }
    }
}

/// Walks output pixels of a batch in order and gives each pixel of a block the top-left corner of its
/// window. A block whose windows are all in frame points into the input (rows `W*C` apart); a block
/// with a window across the border gets zero-padded copies of all its windows (rows `KW*C` apart).
struct WindowGatherer {
    let g: ConvolutionGeometry
    let input: UnsafePointer<Float>
    let runLength: Int
    let hasPadding: Bool
    /// 1x1 windows, stride 1, no padding: the input is the im2col matrix.
    let isFlat: Bool
    /// `[pixelBlock]` window corners of the current block.
    let corners: UnsafeMutablePointer<UnsafePointer<Float>?>
    /// `[pixelBlock * KH * KW * C]` window copies for blocks that cross the border.
    let copies: UnsafeMutablePointer<Float>
    /// The current pixel: its index over the batch, its output row and column, and the input offset
    /// of its window's top-left corner (which may lie in the padding).
    var pixel: Int
    var row: Int
    var column: Int
    var offset: Int

    init(geometry: ConvolutionGeometry, input: UnsafePointer<Float>, pixel: Int) {
        g = geometry
        self.input = input
        runLength = g.kernelWidth * g.channels
        hasPadding = g.padTop > 0 || g.padLeft > 0 || (g.outputHeight - 1) * g.stride + g.kernelHeight > g.inputHeight
            || (g.outputWidth - 1) * g.stride + g.kernelWidth > g.inputWidth
        isFlat = g.isPointwise && !hasPadding
        corners = .allocate(capacity: Convolution.pixelBlock)
        copies = .allocate(capacity: hasPadding ? Convolution.pixelBlock * g.kernelHeight * runLength : 1)
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
        copies.deallocate()
    }

    /// Fills `corners` for the next `valid` pixels (pixels past `valid` repeat the last one) and returns
    /// the distance between a window's rows.
    mutating func gatherBlock(valid: Int) -> Int {
        if isFlat {
            // 1x1 stride-1 windows without padding: pixel p's window is input element p * C.
            let first = input + pixel &* g.channels
            for index in 0..<Convolution.pixelBlock { corners[index] = first + min(index, valid &- 1) &* g.channels }
            pixel &+= valid
            return g.channels
        }
        let start = (pixel, row, column, offset)
        var inFrame = true
        for index in 0..<valid {
            if hasPadding { inFrame = inFrame && isInFrame }
            corners[index] = input + offset
            advance()
        }
        for index in valid..<Convolution.pixelBlock { corners[index] = corners[valid &- 1] }
        if inFrame { return g.inputWidth &* g.channels }
        (pixel, row, column, offset) = start
        let windowLength = g.kernelHeight &* runLength
        for index in 0..<valid {
            copyWindow(into: copies + index &* windowLength)
            corners[index] = UnsafePointer(copies + index &* windowLength)
            advance()
        }
        for index in valid..<Convolution.pixelBlock { corners[index] = corners[valid &- 1] }
        return runLength
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
        for ky in 0..<g.kernelHeight {
            let iy = iy0 &+ ky
            for kx in 0..<g.kernelWidth {
                let ix = ix0 &+ kx
                let destination = copy + (ky &* runLength &+ kx &* g.channels)
                if iy >= 0 && iy < g.inputHeight && ix >= 0 && ix < g.inputWidth {
                    destination.update(from: imageStart + (iy &* g.inputWidth &+ ix) &* g.channels, count: g.channels)
                } else {
                    destination.update(repeating: 0, count: g.channels)
                }
            }
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
