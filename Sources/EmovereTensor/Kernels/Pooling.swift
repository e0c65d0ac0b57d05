// Pooling over NHWC: max and average pooling with a square window ([N, H, W, C] -> [N, OH, OW, C]),
// and global average pooling ([N, H, W, C] -> [N, C]). Padded positions never count (Keras semantics).

import CEmovereCPU
import EmovereCore

/// Pooling kernels (forward and backward).
public enum Pooling {
    /// Max pooling; when given, `indices` `[N, OH, OW, C]` records each maximum's offset inside its
    /// image for `maxBackward` (inference passes nil), as a float: exact for images of up to 2^24 values (a face
    /// network's maps hold a few thousand; training sizes are capped far below).
    public static func maxForward(input: Tensor, geometry g: ConvolutionGeometry, output: Tensor, indices: Tensor?,
                                  instructionSet: InstructionSet = .detected) {
        precondition(indices == nil || g.inputSize <= 1 << 24,
                     "max pooling records offsets as floats, exact up to 2^24 values per image; found \(g.inputSize)")
        let batch = input.shape[0]
        let c = g.channels
        let isa = instructionSet.cValue
        let x = UnsafeSendable(input.pointer)
        let y = UnsafeSendable(output.pointer)
        let argmax = indices.map { UnsafeSendable($0.pointer) }
        // Split over output rows of the whole batch, so a single image also uses every core.
        let minimumRows = max(1, Parallel.elementwiseGrain / max(1, g.outputWidth * c * g.taps))
        Parallel.forEachChunk(batch * g.outputHeight, minimumChunk: minimumRows) { _, range in
            for outputRow in range {
                let n = outputRow / g.outputHeight
                let oy = outputRow &- n &* g.outputHeight
                let (y0, kyStart, kyEnd) = g.rowWindow(oy)
                let first = (y0 &+ kyStart) &* g.inputWidth &* c
                let out = outputRow &* g.outputWidth &* c
                emovere_max_pool_row(isa, x.value + (n &* g.inputSize &+ first), first, g.inputWidth &* c,
                                     kyEnd &- kyStart, g.outputWidth, g.stride, g.padLeft, g.kernelWidth, g.inputWidth,
                                     c, y.value + out, argmax.map { $0.value + out })
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
