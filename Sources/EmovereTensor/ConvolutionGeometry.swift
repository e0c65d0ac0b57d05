import EmovereCore

/// How a convolution or pooling window pads its input (Keras semantics).
public enum Padding: String, Sendable, Codable, CaseIterable {
    /// No padding: output = (input - kernel) / stride + 1.
    case valid
    /// Output = ceil(input / stride); the total padding is split top/left = pad / 2, bottom/right = rest.
    case same
    /// `(kernel - 1) / 2` pixels on every side (PyTorch's and ONNX's usual `padding = k // 2`):
    /// output = (input + 2 * pad - kernel) / stride + 1. Equals `same` at stride 1 for odd kernels.
    case symmetric
}

/// The sizes of a 2-D window operation (convolution or pooling) on one NHWC image.
public struct ConvolutionGeometry: Sendable, Equatable {
    public let inputHeight: Int
    public let inputWidth: Int
    public let channels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let stride: Int
    public let padTop: Int
    public let padLeft: Int
    public let outputHeight: Int
    public let outputWidth: Int

    /// The geometry of a `kernelSize` x `kernelSize` window with `stride` and `padding` over an
    /// input of `inputHeight` x `inputWidth` x `channels`.
    public init(inputHeight: Int, inputWidth: Int, channels: Int, kernelSize: Int, stride: Int, padding: Padding) {
        precondition(kernelSize >= 1 && stride >= 1, "kernel size and stride must be positive")
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.channels = channels
        kernelHeight = kernelSize
        kernelWidth = kernelSize
        self.stride = stride
        switch padding {
        case .valid:
            outputHeight = max(0, (inputHeight - kernelSize) / stride + 1)
            outputWidth = max(0, (inputWidth - kernelSize) / stride + 1)
            padTop = 0
            padLeft = 0
        case .same:
            outputHeight = (inputHeight + stride - 1) / stride
            outputWidth = (inputWidth + stride - 1) / stride
            padTop = max(0, (outputHeight - 1) * stride + kernelSize - inputHeight) / 2
            padLeft = max(0, (outputWidth - 1) * stride + kernelSize - inputWidth) / 2
        case .symmetric:
            let pad = (kernelSize - 1) / 2
            outputHeight = max(0, (inputHeight + 2 * pad - kernelSize) / stride + 1)
            outputWidth = max(0, (inputWidth + 2 * pad - kernelSize) / stride + 1)
            padTop = pad
            padLeft = pad
        }
    }

    /// The window of output row `oy`: its first input row (may be negative, in the padding) and the
    /// kernel rows that fall inside the frame.
    @inlinable @inline(__always)
    public func rowWindow(_ oy: Int) -> (origin: Int, start: Int, end: Int) {
        let origin = oy &* stride &- padTop
        return (origin, max(0, -origin), min(kernelHeight, inputHeight &- origin))
    }

    /// The window of output column `ox`: its first input column and the kernel columns inside the frame.
    @inlinable @inline(__always)
    public func columnWindow(_ ox: Int) -> (origin: Int, start: Int, end: Int) {
        let origin = ox &* stride &- padLeft
        return (origin, max(0, -origin), min(kernelWidth, inputWidth &- origin))
    }

    /// Elements of one input image, `H * W * C`.
    public var inputSize: Int { inputHeight * inputWidth * channels }
    /// Output pixels of one image, `OH * OW`.
    public var outputPixels: Int { outputHeight * outputWidth }
    /// Taps of the window, `KH * KW`.
    public var taps: Int { kernelHeight * kernelWidth }
    /// Images per parallel chunk below which a batch is not split: small feature maps (the last
    /// modules' 3x3 maps) are cheaper to process on one thread than to hand to a second one.
    public var minimumImagesPerChunk: Int {
        max(1, Parallel.elementwiseGrain / max(1, max(inputSize, outputPixels * channels)))
    }

    /// True when the window is 1x1 with stride 1 and no padding: the input is its own im2col matrix.
    public var isPointwise: Bool { taps == 1 && stride == 1 }

    /// The same windows over the input copied into a zero frame (`padTop` rows above, `padLeft` columns to the
    /// left, as many rows and columns as the windows reach), without padding; nil when every window is in frame.
    public var framed: ConvolutionGeometry? {
        let height = (outputHeight - 1) * stride + kernelHeight
        let width = (outputWidth - 1) * stride + kernelWidth
        guard padTop > 0 || padLeft > 0 || height > inputHeight || width > inputWidth else { return nil }
        return ConvolutionGeometry(inputHeight: height, inputWidth: width, channels: channels, kernelSize: kernelHeight,
                                   stride: stride, padding: .valid)
    }
}
