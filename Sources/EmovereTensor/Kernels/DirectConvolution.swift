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

    /// Output pixels per block: two 6-pixel halves for 16-filter blocks, all 12 for 8-filter blocks.
    static let pixelBlock = 12

    /// Forward pass without im2col (see `supportsDirectForward`): 6 pixels x 16 filters (or 12 pixels x
    /// 8 filters) of accumulators stay in registers while each window is read once per filter block.
    /// Same result as `forward` (inference only: `backward` needs the im2col matrix `forward` keeps).
    ///
    /// - Parameters: input `[N, H, W, C]`, kernel `[KH, KW, C, F]`, bias `[F]` or nil,
    ///   relu: apply `max(·, 0)` after the bias, output `[N, OH, OW, F]`.
    public static func directForward(
        input: Tensor, kernel: Tensor, bias: Tensor?, geometry g: ConvolutionGeometry, relu: Bool = false,
        output: Tensor
    ) {
        let batch = input.shape[0]
        let filters = kernel.shape[kernel.shape.count - 1]
        precondition(supportsDirectForward(g, filters: filters), "directForward does not support \(g)")
        precondition(kernel.count == g.taps * g.channels * filters, "kernel \(kernel.shape) does not match \(g)")
        precondition(output.count == batch * g.outputPixels * filters, "output \(output.shape) does not match \(g)")
        let k = g.taps * g.channels
        let tailFilters = filters % 8
        // The last filters % 8 filters use a copy of their weights padded to 8 columns.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: tailFilters == 0 ? 1 : k * 8) { tailBuffer in
            let tail = tailBuffer.baseAddress!
            if tailFilters > 0 {
                let first = filters - tailFilters
                for row in 0..<k {
                    for lane in 0..<8 {
                        tail[row * 8 + lane] = lane < tailFilters ? kernel.pointer[row * filters + first + lane] : 0
                    }
                }
            }
            let tailWeights = UnsafeSendable(tail)
            let x = UnsafeSendable(input.pointer)
            let w = UnsafeSendable(kernel.pointer)
            let y = UnsafeSendable(output.pointer)
            let b = bias.map { UnsafeSendable($0.pointer) }
            let pixels = batch * g.outputPixels
            let window = DirectWindow(geometry: g, outputStride: filters, floor: relu ? 0 : -.infinity)
            let blocks = (pixels + pixelBlock - 1) / pixelBlock
            // Few pixel blocks (small feature maps, batch 1): split the 16-filter blocks into groups too,
            // so every worker gets a share. Work item = block * groups + group.
            let sixteens = filters / 16
            let groups = blocks >= 4 * Parallel.workerCount ? 1 : max(1, min(sixteens, (4 * Parallel.workerCount) / blocks))
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
                    var f0 = 16 &* (sixteens &* group / groups)
                    let end = 16 &* (sixteens &* (group &+ 1) / groups)
                    while f0 < end {
                        let weights = UnsafePointer(w.value) + f0
                        let start: (SIMD8<Float>, SIMD8<Float>) =
                            b.map { (load8($0.value + f0), load8($0.value + (f0 &+ 8))) } ?? (.zero, .zero)
                        window.sixBySixteen(corners, rowStep: rowStep, valid: min(6, valid), weights: weights, start: start,
                                            out: out + f0)
                        if valid > 6 {
                            window.sixBySixteen(corners + 6, rowStep: rowStep, valid: valid &- 6, weights: weights,
                                                start: start, out: out + (6 &* filters &+ f0))
                        }
                        f0 &+= 16
                    }
                    guard group == groups &- 1 else { continue }
                    if f0 &+ 8 <= filters {
                        let start = b.map { load8($0.value + f0) } ?? .zero
                        window.twelveByEight(corners, rowStep: rowStep, valid: valid, weights: UnsafePointer(w.value) + f0,
                                             weightStride: filters, start: start, lanes: 8, out: out + f0)
                        f0 &+= 8
                    }
                    if f0 < filters {
                        var start = SIMD8<Float>()
                        if let b { for lane in 0..<tailFilters { start[lane] = b.value[f0 &+ lane] } }
                        window.twelveByEight(corners, rowStep: rowStep, valid: valid, weights: UnsafePointer(tailWeights.value),
                                             weightStride: 8, start: start, lanes: tailFilters, out: out + f0)
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
    let corners: UnsafeMutablePointer<UnsafePointer<Float>>
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

/// The shape of one window walk: per pixel, `kernelHeight` runs of `runLength` input values `rowStep`
/// apart from the pixel's window corner, against weight rows `weightStride` apart.
struct DirectWindow {
    let kernelHeight: Int
    let runLength: Int
    let outputStride: Int
    let floor: SIMD8<Float>

    init(geometry g: ConvolutionGeometry, outputStride: Int, floor: Float) {
        kernelHeight = g.kernelHeight
        runLength = g.kernelWidth * g.channels
        self.outputStride = outputStride
        self.floor = SIMD8(repeating: floor)
    }

    @inline(__always) func clamped(_ value: SIMD8<Float>) -> SIMD8<Float> {
        value.replacing(with: floor, where: value .< floor)
    }

    /// Six pixels x 16 filters (weights `outputStride` apart); stores the first `valid` pixels at
    /// `out + pixel * outputStride`.
    @inline(__always)
    func sixBySixteen(
        _ corner: UnsafePointer<UnsafePointer<Float>>, rowStep: Int, valid: Int, weights: UnsafePointer<Float>,
        start: (SIMD8<Float>, SIMD8<Float>), out: UnsafeMutablePointer<Float>
    ) {
        var a00 = start.0, a01 = start.1, a10 = start.0, a11 = start.1, a20 = start.0, a21 = start.1
        var a30 = start.0, a31 = start.1, a40 = start.0, a41 = start.1, a50 = start.0, a51 = start.1
        for ky in 0..<kernelHeight {
            let offset = ky &* rowStep
            let p0 = corner[0] + offset, p1 = corner[1] + offset, p2 = corner[2] + offset
            let p3 = corner[3] + offset, p4 = corner[4] + offset, p5 = corner[5] + offset
            var weightRow = weights + ky &* runLength &* outputStride
            for tap in 0..<runLength {
                let w0 = load8(weightRow), w1 = load8(weightRow + 8)
                var s = SIMD8<Float>(repeating: p0[tap])
                a00.addProduct(s, w0); a01.addProduct(s, w1)
                s = SIMD8(repeating: p1[tap])
                a10.addProduct(s, w0); a11.addProduct(s, w1)
                s = SIMD8(repeating: p2[tap])
                a20.addProduct(s, w0); a21.addProduct(s, w1)
                s = SIMD8(repeating: p3[tap])
                a30.addProduct(s, w0); a31.addProduct(s, w1)
                s = SIMD8(repeating: p4[tap])
                a40.addProduct(s, w0); a41.addProduct(s, w1)
                s = SIMD8(repeating: p5[tap])
                a50.addProduct(s, w0); a51.addProduct(s, w1)
                weightRow += outputStride
            }
        }
        store(a00, a01, pixel: 0, valid: valid, out: out)
        store(a10, a11, pixel: 1, valid: valid, out: out)
        store(a20, a21, pixel: 2, valid: valid, out: out)
        store(a30, a31, pixel: 3, valid: valid, out: out)
        store(a40, a41, pixel: 4, valid: valid, out: out)
        store(a50, a51, pixel: 5, valid: valid, out: out)
    }

    /// Twelve pixels x 8 filters (weight rows `weightStride` apart); stores `lanes` filters of the first
    /// `valid` pixels.
    @inline(__always)
    func twelveByEight(
        _ corner: UnsafePointer<UnsafePointer<Float>>, rowStep: Int, valid: Int, weights: UnsafePointer<Float>,
        weightStride: Int,
        start: SIMD8<Float>, lanes: Int, out: UnsafeMutablePointer<Float>
    ) {
        var a0 = start, a1 = start, a2 = start, a3 = start, a4 = start, a5 = start
        var a6 = start, a7 = start, a8 = start, a9 = start, a10 = start, a11 = start
        for ky in 0..<kernelHeight {
            let offset = ky &* rowStep
            let p0 = corner[0] + offset, p1 = corner[1] + offset, p2 = corner[2] + offset
            let p3 = corner[3] + offset, p4 = corner[4] + offset, p5 = corner[5] + offset
            let p6 = corner[6] + offset, p7 = corner[7] + offset, p8 = corner[8] + offset
            let p9 = corner[9] + offset, p10 = corner[10] + offset, p11 = corner[11] + offset
            var weightRow = weights + ky &* runLength &* weightStride
            for tap in 0..<runLength {
                let w = load8(weightRow)
                a0.addProduct(SIMD8(repeating: p0[tap]), w)
                a1.addProduct(SIMD8(repeating: p1[tap]), w)
                a2.addProduct(SIMD8(repeating: p2[tap]), w)
                a3.addProduct(SIMD8(repeating: p3[tap]), w)
                a4.addProduct(SIMD8(repeating: p4[tap]), w)
                a5.addProduct(SIMD8(repeating: p5[tap]), w)
                a6.addProduct(SIMD8(repeating: p6[tap]), w)
                a7.addProduct(SIMD8(repeating: p7[tap]), w)
                a8.addProduct(SIMD8(repeating: p8[tap]), w)
                a9.addProduct(SIMD8(repeating: p9[tap]), w)
                a10.addProduct(SIMD8(repeating: p10[tap]), w)
                a11.addProduct(SIMD8(repeating: p11[tap]), w)
                weightRow += weightStride
            }
        }
        store(a0, pixel: 0, valid: valid, lanes: lanes, out: out)
        store(a1, pixel: 1, valid: valid, lanes: lanes, out: out)
        store(a2, pixel: 2, valid: valid, lanes: lanes, out: out)
        store(a3, pixel: 3, valid: valid, lanes: lanes, out: out)
        store(a4, pixel: 4, valid: valid, lanes: lanes, out: out)
        store(a5, pixel: 5, valid: valid, lanes: lanes, out: out)
        store(a6, pixel: 6, valid: valid, lanes: lanes, out: out)
        store(a7, pixel: 7, valid: valid, lanes: lanes, out: out)
        store(a8, pixel: 8, valid: valid, lanes: lanes, out: out)
        store(a9, pixel: 9, valid: valid, lanes: lanes, out: out)
        store(a10, pixel: 10, valid: valid, lanes: lanes, out: out)
        store(a11, pixel: 11, valid: valid, lanes: lanes, out: out)
    }

    @inline(__always)
    func store(_ low: SIMD8<Float>, _ high: SIMD8<Float>, pixel: Int, valid: Int, out: UnsafeMutablePointer<Float>) {
        guard pixel < valid else { return }
        store8(clamped(low), out + pixel &* outputStride)
        store8(clamped(high), out + (pixel &* outputStride &+ 8))
    }

    @inline(__always)
    func store(_ value: SIMD8<Float>, pixel: Int, valid: Int, lanes: Int, out: UnsafeMutablePointer<Float>) {
        guard pixel < valid else { return }
        let target = out + pixel &* outputStride
        if lanes == 8 {
            store8(clamped(value), target)
        } else {
            let result = clamped(value)
            for lane in 0..<lanes { target[lane] = result[lane] }
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
                            sum.addProduct(SIMD8(repeating: mean[row]), load8(UnsafePointer(w.value) + (row &* filters &+ f0)))
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
