// Pooling over NHWC: max and average pooling with a square window ([N, H, W, C] -> [N, OH, OW, C]),
// and global average pooling ([N, H, W, C] -> [N, C]). Padded positions never count (Keras semantics).

import EmovereCore

/// Pooling kernels (forward and backward).
public enum Pooling {
    /// Max pooling; when given, `indices` `[N, OH, OW, C]` records each maximum's offset inside its
    /// image for `maxBackward` (inference passes nil).
    public static func maxForward(input: Tensor, geometry g: ConvolutionGeometry, output: Tensor, indices: Tensor?) {
        let batch = input.shape[0]
        let c = g.channels
        let x = UnsafeSendable(input.pointer)
        let y = UnsafeSendable(output.pointer)
        let argmax = indices.map { UnsafeSendable($0.pointer) }
        // Split over output rows of the whole batch, so a single image also uses every core.
        let minimumRows = max(1, Parallel.elementwiseGrain / max(1, g.outputWidth * c * g.taps))
        Parallel.forEachChunk(batch * g.outputHeight, minimumChunk: minimumRows) { _, range in
            for outputRow in range {
                let n = outputRow / g.outputHeight
                let oy = outputRow &- n &* g.outputHeight
                let image = x.value + n &* g.inputSize
                var out = y.value + outputRow &* g.outputWidth &* c
                var index = argmax.map { $0.value + outputRow &* g.outputWidth &* c }
                do {
                    let (y0, kyStart, kyEnd) = g.rowWindow(oy)
                    for ox in 0..<g.outputWidth {
                        let (x0, kxStart, kxEnd) = g.columnWindow(ox)
                        let first = ((y0 &+ kyStart) &* g.inputWidth &+ x0 &+ kxStart) &* c
                        if c % 8 == 0 && index == nil && g.kernelHeight == 3 && g.kernelWidth == 3
                            && kyEnd &- kyStart == 3 && kxEnd &- kxStart == 3 {
                            // Inference, a 3x3 window in frame: nine loads per eight channels.
                            let top = image + first, middle = top + g.inputWidth &* c, bottom = middle + g.inputWidth &* c
                            let c2 = c &+ c
                            var c0 = 0
                            while c0 < c {
                                let row0 = max3(load8(top + c0), load8(top + (c0 &+ c)), load8(top + (c0 &+ c2)))
                                let row1 = max3(load8(middle + c0), load8(middle + (c0 &+ c)), load8(middle + (c0 &+ c2)))
                                let row2 = max3(load8(bottom + c0), load8(bottom + (c0 &+ c)), load8(bottom + (c0 &+ c2)))
                                store8(max3(row0, row1, row2), out + c0)
                                c0 &+= 8
                            }
                        } else if c % 8 == 0 && index == nil {
                            // Inference: maxima only.
                            var c0 = 0
                            while c0 < c {
                                var best = load8(image + (first &+ c0))
                                for ky in kyStart..<kyEnd {
                                    let rowStart = image + (((y0 &+ ky) &* g.inputWidth &+ x0) &* c &+ c0)
                                    for kx in kxStart..<kxEnd {
                                        let value = load8(rowStart + kx &* c)
                                        best.replace(with: value, where: value .> best)
                                    }
                                }
                                store8(best, out + c0)
                                c0 &+= 8
                            }
                        } else if c % 8 == 0 {
                            var c0 = 0
                            while c0 < c {
                                var best = load8(image + (first &+ c0))
                                var bestIndex = SIMD8<Float>(repeating: Float(first &+ c0))
                                    + SIMD8<Float>(0, 1, 2, 3, 4, 5, 6, 7)
                                for ky in kyStart..<kyEnd {
                                    for kx in kxStart..<kxEnd {
                                        let pixel = ((y0 &+ ky) &* g.inputWidth &+ x0 &+ kx) &* c &+ c0
                                        let value = load8(image + pixel)
                                        let greater = value .> best
                                        best.replace(with: value, where: greater)
                                        bestIndex.replace(
                                            with: SIMD8<Float>(repeating: Float(pixel)) + SIMD8<Float>(0, 1, 2, 3, 4, 5, 6, 7),
                                            where: greater)
                                    }
                                }
                                store8(best, out + c0)
                                if let index { store8(bestIndex, index + c0) }
                                c0 &+= 8
                            }
                        } else {
                            for channel in 0..<c {
                                var best = image[first &+ channel]
                                var bestIndex = first &+ channel
                                for ky in kyStart..<kyEnd {
                                    for kx in kxStart..<kxEnd {
                                        let element = ((y0 &+ ky) &* g.inputWidth &+ x0 &+ kx) &* c &+ channel
                                        if image[element] > best {
                                            best = image[element]
                                            bestIndex = element
                                        }
                                    }
                                }
                                out[channel] = best
                                index?[channel] = Float(bestIndex)
                            }
                        }
                        out += c
                        index = index.map { $0 + c }
                    }
                }
            }
        }
    }

    /// Routes each output gradient to the input element that was the maximum (overwrites `inputGradient`).
    public static func maxBackward(
        outputGradient: Tensor, indices: Tensor, geometry g: ConvolutionGeometry, inputGradient: Tensor
    ) {
        let batch = inputGradient.shape[0]
        let perImage = g.outputPixels * g.channels
        let dy = UnsafeSendable(outputGradient.pointer)
        let argmax = UnsafeSendable(indices.pointer)
        let dx = UnsafeSendable(inputGradient.pointer)
        Parallel.forEachChunk(batch, minimumChunk: g.minimumImagesPerChunk) { _, images in
            for n in images {
                let image = dx.value + n &* g.inputSize
                image.update(repeating: 0, count: g.inputSize)
                let gradient = dy.value + n &* perImage
                let index = argmax.value + n &* perImage
                for element in 0..<perImage {
                    image[Int(index[element])] += gradient[element]
                }
            }
        }
    }

    /// Average pooling; each window is divided by the number of in-frame positions it covers.
    public static func averageForward(input: Tensor, geometry g: ConvolutionGeometry, output: Tensor) {
        averageWindows(geometry: g, batch: input.shape[0]) { n, pixel, out, weight in
            let image = input.pointer + n &* g.inputSize
            let destination = output.pointer + out
            for channel in 0..<g.channels { destination[channel] += image[pixel &+ channel] * weight }
        } prepare: { n in
            (output.pointer + n &* g.outputPixels &* g.channels).update(repeating: 0, count: g.outputPixels * g.channels)
        }
    }

    /// Backward pass of `averageForward` (overwrites `inputGradient`).
    public static func averageBackward(outputGradient: Tensor, geometry g: ConvolutionGeometry, inputGradient: Tensor) {
        averageWindows(geometry: g, batch: inputGradient.shape[0]) { n, pixel, out, weight in
            let image = inputGradient.pointer + n &* g.inputSize
            let source = outputGradient.pointer + out
            for channel in 0..<g.channels { image[pixel &+ channel] += source[channel] * weight }
        } prepare: { n in
            (inputGradient.pointer + n &* g.inputSize).update(repeating: 0, count: g.inputSize)
        }
    }

    /// Visits every (output element, in-frame input pixel) pair of average pooling with weight 1/count.
    private static func averageWindows(
        geometry g: ConvolutionGeometry, batch: Int,
        _ visit: @Sendable (_ image: Int, _ pixel: Int, _ output: Int, _ weight: Float) -> Void,
        prepare: @Sendable (_ image: Int) -> Void
    ) {
        Parallel.forEachChunk(batch, minimumChunk: g.minimumImagesPerChunk) { _, images in
            for n in images {
                prepare(n)
                for oy in 0..<g.outputHeight {
                    let (y0, kyStart, kyEnd) = g.rowWindow(oy)
                    for ox in 0..<g.outputWidth {
                        let (x0, kxStart, kxEnd) = g.columnWindow(ox)
                        let weight = 1 / Float((kyEnd - kyStart) * (kxEnd - kxStart))
                        let out = ((n &* g.outputHeight &+ oy) &* g.outputWidth &+ ox) &* g.channels
                        for ky in kyStart..<kyEnd {
                            for kx in kxStart..<kxEnd {
                                visit(n, ((y0 &+ ky) &* g.inputWidth &+ x0 &+ kx) &* g.channels, out, weight)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Global average pooling: `output[n, c] = mean over (h, w) of input[n, h, w, c]`.
    public static func globalAverageForward(input: Tensor, output: Tensor) {
        let batch = input.shape[0]
        let channels = input.shape[input.shape.count - 1]
        let pixels = input.count / max(batch * channels, 1)
        let scale = 1 / Float(max(pixels, 1))
        for n in 0..<batch {
            Elementwise.sumRows(input.pointer + n * pixels * channels, rows: pixels, columns: channels,
                                into: output.pointer + n * channels)
            for c in 0..<channels { output.pointer[n * channels + c] *= scale }
        }
    }

    /// Backward pass of global average pooling: each input element gets `outputGradient[n, c] / (H * W)`.
    public static func globalAverageBackward(outputGradient: Tensor, inputGradient: Tensor) {
        let batch = inputGradient.shape[0]
        let channels = inputGradient.shape[inputGradient.shape.count - 1]
        let pixels = inputGradient.count / max(batch * channels, 1)
        let scale = 1 / Float(max(pixels, 1))
        for n in 0..<batch {
            let source = outputGradient.pointer + n * channels
            var destination = inputGradient.pointer + n * pixels * channels
            for _ in 0..<pixels {
                for c in 0..<channels { destination[c] = source[c] * scale }
                destination += channels
            }
        }
    }
}

/// The lane-wise maximum of three vectors.
@inline(__always)
private func max3(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
    var result = a
    result.replace(with: b, where: b .> result)
    result.replace(with: c, where: c .> result)
    return result
}
