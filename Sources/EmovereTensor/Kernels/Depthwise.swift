import CEmovereCPU
import EmovereCore

// Depthwise 2-D convolution (one filter per channel, depth multiplier 1), NHWC.
// input [N, H, W, C], kernel [KH, KW, C] (Keras [KH, KW, C, 1]), output [N, OH, OW, C].
// Vectorised over channels with SIMD8 when C is a multiple of 8 (every Emovere model), scalar otherwise.

@inline(__always) @usableFromInline
func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) @usableFromInline
func store8(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
}

/// Depthwise convolution kernels (forward and backward).
public enum DepthwiseConvolution {
    /// Forward pass: `output[n, oy, ox, c] = Σ_taps input[n, iy, ix, c] * kernel[ky, kx, c]`, plus `bias[c]` when
    /// given, then `max(·, 0)` when `relu` (the epilogue runs on each band of rows while it is in cache).
    public static func forward(input: Tensor, kernel: Tensor, bias: Tensor? = nil, relu: Bool = false,
                               geometry g: ConvolutionGeometry, output: Tensor,
                               instructionSet: InstructionSet = .detected) {
        let batch = input.shape[0]
        precondition(kernel.count == g.taps * g.channels, "depthwise kernel \(kernel.shape) does not match \(g)")
        precondition(output.count == batch * g.outputPixels * g.channels, "output \(output.shape) does not match \(g)")
        precondition(bias.map { $0.count == g.channels } ?? true, "depthwise bias must have \(g.channels) values")
        let x = UnsafeSendable(input.pointer)
        let w = UnsafeSendable(kernel.pointer)
        let y = UnsafeSendable(output.pointer)
        let b = bias.map { UnsafeSendable($0.pointer) }
        let epilogue = bias != nil || relu
        let rowLength = g.outputWidth * g.channels
        // Split over output rows of the whole batch, so a single image also uses every core.
        let minimumRows = max(1, Parallel.elementwiseGrain / max(1, g.outputWidth * g.channels * g.taps))
        Parallel.forEachChunk(batch * g.outputHeight, minimumChunk: minimumRows) { _, range in
            var outputRow = range.lowerBound
            while outputRow < range.upperBound {
                let n = outputRow / g.outputHeight
                let first = outputRow - n * g.outputHeight
                let last = min(g.outputHeight, first + range.upperBound - outputRow)
                let image = y.value + (n &* g.outputPixels &* g.channels)
                forwardImage(x.value + (n &* g.inputSize), w.value, g, image, rows: first..<last,
                             instructionSet: instructionSet)
                if epilogue {
                    Elementwise.addBiasAndClamp(b.map { UnsafePointer($0.value) }, to: image + first * rowLength,
                                                rows: (last - first) * g.outputWidth, columns: g.channels, relu: relu)
                }
                outputRow += last - first
            }
        }
    }

    /// Output rows `rows` of one image (all rows when nil).
    @inline(__always)
    static func forwardImage(
        _ input: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>, _ g: ConvolutionGeometry,
        _ output: UnsafeMutablePointer<Float>, rows: Range<Int>? = nil, instructionSet: InstructionSet = .detected
    ) {
        let c = g.channels
        let vectorised = c % 8 == 0
        let rows = rows ?? 0..<g.outputHeight
        let rowLength = g.outputWidth &* c
        if vectorised && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padTop <= 1 && g.padLeft <= 1 {
            forwardRows3x3(input, kernel, g, output, rows: rows, instructionSet: instructionSet)
            return
        }
        var out = output + rows.lowerBound &* rowLength
        for oy in rows {
            let (y0, kyStart, kyEnd) = g.rowWindow(oy)
            for ox in 0..<g.outputWidth {
                let (x0, kxStart, kxEnd) = g.columnWindow(ox)
                let pixelOut = out + ox &* c
                if vectorised {
                    var c0 = 0
                    while c0 < c {
                        var accumulator = SIMD8<Float>()
                        for ky in kyStart..<kyEnd {
                            let rowIn = input + (((y0 &+ ky) &* g.inputWidth &+ x0) &* c &+ c0)
                            let rowW = kernel + (ky &* g.kernelWidth &* c &+ c0)
                            for kx in kxStart..<kxEnd {
                                accumulator += load8(rowIn + (kx &* c)) * load8(rowW + (kx &* c))
                            }
                        }
                        store8(accumulator, pixelOut + c0)
                        c0 &+= 8
                    }
                } else {
                    // Tap by tap over all channels: the same sums in the same order as one channel at a time,
                    // with the window computed once per pixel.
                    for channel in 0..<c { pixelOut[channel] = 0 }
                    for ky in kyStart..<kyEnd {
                        let rowIn = input + ((y0 &+ ky) &* g.inputWidth &+ x0) &* c
                        let rowW = kernel + ky &* g.kernelWidth &* c
                        for kx in kxStart..<kxEnd {
                            let tapIn = rowIn + kx &* c, tapW = rowW + kx &* c
                            for channel in 0..<c { pixelOut[channel] += tapIn[channel] * tapW[channel] }
                        }
                    }
                }
            }
            out += rowLength
        }
    }

    /// Output rows `rows` of one image for 3x3 windows, stride 1, padding 0 or 1, `C % 8 == 0`: windows in
    /// frame take the four-pixel row kernel; kernel rows above or below the frame read a row of zeros,
    /// and the two border columns gather their taps (`emovere_depthwise3x3_pixel`). Interior pixels run
    /// `emovere_depthwise3x3_row` for `instructionSet`: four pixels at a time share the six input columns they read,
    /// and the nine weights of a channel block stay in registers; with fewer channels than a vector holds (8 on
    /// AVX-512), each vector holds whole pixels.
    static func forwardRows3x3(
        _ input: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>, _ g: ConvolutionGeometry,
        _ output: UnsafeMutablePointer<Float>, rows: Range<Int>, instructionSet: InstructionSet
    ) {
        let c = g.channels
        let rowLength = g.inputWidth &* c
        let interior = g.padLeft..<max(g.padLeft, min(g.outputWidth, g.inputWidth &- 2 &+ g.padLeft))
        let edgeSet = instructionSet.dividing(channels: c).cValue
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rowLength) { buffer in
            let zeros = UnsafePointer(buffer.baseAddress!)
            buffer.baseAddress!.initialize(repeating: 0, count: rowLength)
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 9) { taps in
                let taps = taps.baseAddress!
                for oy in rows {
                    let y0 = oy &- g.padTop
                    let top = y0 >= 0 && y0 < g.inputHeight ? input + y0 &* rowLength : zeros
                    let middle = y0 &+ 1 < g.inputHeight ? input + (y0 &+ 1) &* rowLength : zeros
                    let bottom = y0 &+ 2 < g.inputHeight ? input + (y0 &+ 2) &* rowLength : zeros
                    let out = output + oy &* g.outputWidth &* c
                    if !interior.isEmpty {
                        let x0 = (interior.lowerBound &- g.padLeft) &* c
                        emovere_depthwise3x3_row(instructionSet.cValue, top + x0, middle + x0, bottom + x0, kernel, c,
                                                 out + interior.lowerBound &* c, interior.count)
                    }
                    for ox in 0..<g.outputWidth where !interior.contains(ox) {
                        gatherTaps3x3((top, middle, bottom), column: ox &- g.padLeft, width: g.inputWidth, channels: c,
                                      outside: zeros, into: taps)
                        emovere_depthwise3x3_pixel(edgeSet, taps, kernel, c, out + ox &* c)
                    }
                }
            }
        }
    }

    /// The nine taps of the 3x3 window whose left column is `column` of `rows` (`width` pixels of `channels`): each
    /// tap's pixel, or `outside` for a column outside the frame, into `taps` (tap `3 * ky + kx`).
    @inline(__always)
    static func gatherTaps3x3(
        _ rows: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>), column: Int, width: Int,
        channels: Int, outside: UnsafePointer<Float>?, into taps: UnsafeMutablePointer<UnsafePointer<Float>?>
    ) {
        for kx in 0..<3 {
            let x = column &+ kx
            let inFrame = x >= 0 && x < width
            taps[kx] = inFrame ? rows.0 + x &* channels : outside
            taps[3 &+ kx] = inFrame ? rows.1 + x &* channels : outside
            taps[6 &+ kx] = inFrame ? rows.2 + x &* channels : outside
        }
    }

    /// Backward pass: overwrites `kernelGradient` `[KH, KW, C]` and, when given, `inputGradient`
    /// `[N, H, W, C]`. `partials` is a `[chunks, KH*KW*C]` workspace.
    public static func backward(
        outputGradient: Tensor, input: Tensor, kernel: Tensor, geometry g: ConvolutionGeometry,
        kernelGradient: Tensor, inputGradient: Tensor?, partials: Tensor, instructionSet: InstructionSet = .detected
    ) {
        let batch = input.shape[0]
        let kernelSize = g.taps * g.channels
        let chunkCount = Parallel.chunks(batch, minimumChunk: g.minimumImagesPerChunk).count
        precondition(partials.count >= chunkCount * kernelSize, "partials too small")
        let dy = UnsafeSendable(outputGradient.pointer)
        let x = UnsafeSendable(input.pointer)
        let w = UnsafeSendable(kernel.pointer)
        let dx = inputGradient.map { UnsafeSendable($0.pointer) }
        let parts = UnsafeSendable(partials.pointer)
        // 3x3, stride 1, same padding, C % 8 == 0 (every separable conv of mini-Xception): the input
        // gradient is the forward pass of the output gradient with the kernel rotated by 180 degrees,
        // and the kernel gradient accumulates in registers along each row.
        let isSame3x3 = g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padTop == 1 && g.padLeft == 1
            && g.outputHeight == g.inputHeight && g.outputWidth == g.inputWidth && g.channels % 8 == 0
        // Allocated here and freed after the workers are done: a pointer taken out of an array's closure may outlive
        // the array's storage (an optimised build may free it after its last use).
        let rotated = UnsafeMutablePointer<Float>.allocate(capacity: isSame3x3 ? kernelSize : 0)
        defer { rotated.deallocate() }
        if isSame3x3 {
            for tap in 0..<9 {
                for channel in 0..<g.channels { rotated[(8 - tap) * g.channels + channel] = kernel[tap * g.channels + channel] }
            }
        }
        let rotatedKernel = UnsafeSendable(rotated)
        Parallel.forEachChunk(batch, minimumChunk: g.minimumImagesPerChunk) { chunk, images in
            let dw = parts.value + (chunk &* kernelSize)
            dw.update(repeating: 0, count: kernelSize)
            if isSame3x3 {
                for n in images {
                    let gradient = dy.value + (n &* g.outputPixels &* g.channels)
                    let image = x.value + (n &* g.inputSize)
                    if let dx {
                        forwardImage(gradient, rotatedKernel.value, g, dx.value + (n &* g.inputSize),
                                     instructionSet: instructionSet)
                    }
                    kernelGradientSame3x3(gradient, image, g, dw, instructionSet: instructionSet)
                }
                return
            }
            for n in images {
                let dxImage = dx.map { $0.value + (n &* g.inputSize) }
                dxImage?.update(repeating: 0, count: g.inputSize)
                backwardImage(
                    dy.value + (n &* g.outputPixels &* g.channels), x.value + (n &* g.inputSize), w.value, g,
                    dw, dxImage)
            }
        }
        Elementwise.sumChunks(
            partials.pointer, chunkCount: chunkCount, chunkStride: kernelSize, count: kernelSize,
            into: kernelGradient.pointer)
    }

    /// `kernelGradient[tap, c] += Σ_pixels input[pixel + tap - 1, c] * outputGradient[pixel, c]` for a 3x3
    /// same-padded stride-1 window over one image (`C % 8 == 0`): each row's interior pixels run
    /// `emovere_depthwise3x3_kernel_gradient_row` for `instructionSet` (rows above and below the frame read a row of
    /// zeros), the two border columns add their in-frame taps (`emovere_depthwise3x3_kernel_gradient_pixel`).
    static func kernelGradientSame3x3(
        _ outputGradient: UnsafePointer<Float>, _ input: UnsafePointer<Float>, _ g: ConvolutionGeometry,
        _ kernelGradient: UnsafeMutablePointer<Float>, instructionSet: InstructionSet = .detected
    ) {
        let c = g.channels
        let height = g.inputHeight
        let width = g.inputWidth
        let rowLength = width &* c
        let edgeSet = instructionSet.dividing(channels: c).cValue
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rowLength) { buffer in
            let zeros = UnsafePointer(buffer.baseAddress!)
            buffer.baseAddress!.initialize(repeating: 0, count: rowLength)
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 9) { taps in
                let taps = taps.baseAddress!
                for oy in 0..<height {
                    let top = oy > 0 ? input + (oy &- 1) &* rowLength : zeros
                    let middle = input + oy &* rowLength
                    let bottom = oy &+ 1 < height ? input + (oy &+ 1) &* rowLength : zeros
                    let gradient = outputGradient + oy &* rowLength
                    if width > 2 {
                        emovere_depthwise3x3_kernel_gradient_row(instructionSet.cValue, gradient + c, top, middle,
                                                                 bottom, c, width &- 2, kernelGradient)
                    }
                    // The two border columns (one when the image is one pixel wide); rows outside the frame are the
                    // row of zeros, columns outside it have no taps.
                    for ox in stride(from: 0, to: width, by: max(1, width &- 1)) {
                        gatherTaps3x3((top, middle, bottom), column: ox &- 1, width: width, channels: c, outside: nil,
                                      into: taps)
                        emovere_depthwise3x3_kernel_gradient_pixel(edgeSet, taps, gradient + ox &* c, c,
                                                                   kernelGradient)
                    }
                }
            }
        }
    }

    @inline(__always)
    static func backwardImage(
        _ outputGradient: UnsafePointer<Float>, _ input: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>,
        _ g: ConvolutionGeometry, _ kernelGradient: UnsafeMutablePointer<Float>,
        _ inputGradient: UnsafeMutablePointer<Float>?
    ) {
        let c = g.channels
        let vectorised = c % 8 == 0
        var gradient = outputGradient
        for oy in 0..<g.outputHeight {
            let (y0, kyStart, kyEnd) = g.rowWindow(oy)
            for ox in 0..<g.outputWidth {
                let (x0, kxStart, kxEnd) = g.columnWindow(ox)
                for ky in kyStart..<kyEnd {
                    for kx in kxStart..<kxEnd {
                        let pixel = ((y0 &+ ky) &* g.inputWidth &+ x0 &+ kx) &* c
                        let tap = (ky &* g.kernelWidth &+ kx) &* c
                        if vectorised {
                            var c0 = 0
                            while c0 < c {
                                let dyVector = load8(gradient + c0)
                                let dwPointer = kernelGradient + (tap &+ c0)
                                store8((load8(dwPointer) + load8(input + (pixel &+ c0)) * dyVector), dwPointer)
                                if let inputGradient {
                                    let dxPointer = inputGradient + (pixel &+ c0)
                                    store8(
                                        (load8(dxPointer) + load8(kernel + (tap &+ c0)) * dyVector), dxPointer)
                                }
                                c0 &+= 8
                            }
                        } else {
                            for channel in 0..<c {
                                let d = gradient[channel]
                                kernelGradient[tap &+ channel] += input[pixel &+ channel] * d
                                inputGradient?[pixel &+ channel] += kernel[tap &+ channel] * d
                            }
                        }
                    }
                }
                gradient += c
            }
        }
    }
}
