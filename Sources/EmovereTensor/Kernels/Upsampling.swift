// Nearest-neighbour upsampling by an integer factor, NHWC: every input pixel becomes a factor x factor block
// (ONNX `Resize` with mode nearest, asymmetric coordinates, floor rounding and integer scales).

import EmovereCore

/// Nearest-neighbour upsampling kernels (forward and backward).
public enum Upsampling {
    /// `output[n, y, x, c] = input[n, y / factor, x / factor, c]`.
    /// - Parameters: input `[N, H, W, C]`, output `[N, H * factor, W * factor, C]`.
    public static func nearestForward(input: Tensor, factor: Int, output: Tensor) {
        let (batch, height, width, channels) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        precondition(output.shape == [batch, height * factor, width * factor, channels],
                     "upsampling output \(output.shape) does not match input \(input.shape) x\(factor)")
        let x = UnsafeSendable(input.pointer)
        let y = UnsafeSendable(output.pointer)
        let outputWidth = width * factor
        let rowLength = outputWidth * channels
        // One output row per item: copy each input pixel `factor` times, then repeat the row.
        Parallel.forEachChunk(batch * height, minimumChunk: max(1, Parallel.elementwiseGrain / max(1, rowLength * factor))) {
            _, range in
            for inputRow in range {
                let source = x.value + inputRow * width * channels
                let first = y.value + inputRow * factor * rowLength
                var destination = first
                for column in 0..<width {
                    for _ in 0..<factor {
                        destination.update(from: source + column * channels, count: channels)
                        destination += channels
                    }
                }
                for copy in 1..<max(factor, 1) { (first + copy * rowLength).update(from: first, count: rowLength) }
            }
        }
    }

    /// The gradient of `nearestForward`: each input pixel receives the sum over its `factor x factor` block.
    /// - Parameters: outputGradient `[N, H * factor, W * factor, C]`, inputGradient `[N, H, W, C]` (overwritten).
    public static func nearestBackward(outputGradient: Tensor, factor: Int, inputGradient: Tensor) {
        let (batch, height, width, channels) =
            (inputGradient.shape[0], inputGradient.shape[1], inputGradient.shape[2], inputGradient.shape[3])
        precondition(outputGradient.shape == [batch, height * factor, width * factor, channels],
                     "upsampling gradient \(outputGradient.shape) does not match \(inputGradient.shape) x\(factor)")
        let dy = UnsafeSendable(outputGradient.pointer)
        let dx = UnsafeSendable(inputGradient.pointer)
        let rowLength = width * factor * channels
        Parallel.forEachChunk(batch * height, minimumChunk: max(1, Parallel.elementwiseGrain / max(1, rowLength * factor))) {
            _, range in
            for inputRow in range {
                let target = dx.value + inputRow * width * channels
                target.update(repeating: 0, count: width * channels)
                for copy in 0..<factor {
                    let row = dy.value + (inputRow * factor + copy) * rowLength
                    for column in 0..<width {
                        for repeatIndex in 0..<factor {
                            let source = row + (column * factor + repeatIndex) * channels
                            for channel in 0..<channels { target[column * channels + channel] += source[channel] }
                        }
                    }
                }
            }
        }
    }
}
