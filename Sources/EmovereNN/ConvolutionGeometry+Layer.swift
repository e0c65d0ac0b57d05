import EmovereTensor

extension ConvolutionGeometry {
    /// The geometry of a window layer named `layer` over a per-example input `[height, width, channels]`;
    /// throws when the shape has another rank or the window leaves no output.
    init(layer: String, inputShape: [Int], kernelSize: Int, stride: Int, padding: Padding) throws(ModelError) {
        guard inputShape.count == 3 else {
            throw .invalidShape(layer: layer, expected: "[height, width, channels]", received: inputShape)
        }
        self.init(inputHeight: inputShape[0], inputWidth: inputShape[1], channels: inputShape[2],
                  kernelSize: kernelSize, stride: stride, padding: padding)
        guard outputHeight > 0 && outputWidth > 0 else {
            throw .invalidShape(layer: "\(layer)(\(kernelSize)x\(kernelSize))",
                                expected: "at least \(kernelSize)x\(kernelSize)", received: inputShape)
        }
    }
}
