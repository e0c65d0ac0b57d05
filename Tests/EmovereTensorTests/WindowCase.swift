import EmovereTensor
import EmovereTestSupport
import Testing

/// One shape for the window kernels (convolution, depthwise convolution, pooling): an odd,
/// non-square input so row/column mix-ups show, every kernel size the models use (1x1 takes the
/// pointwise path when the stride is 1), both strides and paddings, 3 channels (scalar paths) and
/// 8/16 channels (SIMD8 paths), and batch 1 (one chunk) or 3 (several `Parallel` chunks on any
/// machine with at least two cores).
struct WindowCase: CustomTestStringConvertible, Sendable {
    var batch: Int
    var height: Int
    var width: Int
    var channels: Int
    var kernelSize: Int
    var stride: Int
    var padding: Padding

    var geometry: ConvolutionGeometry {
        ConvolutionGeometry(inputHeight: height, inputWidth: width, channels: channels, kernelSize: kernelSize,
                            stride: stride, padding: padding)
    }

    /// `[batch, height, width, channels]`.
    var inputShape: [Int] { [batch, height, width, channels] }

    /// `[batch, outputHeight, outputWidth, outputChannels]`.
    func outputShape(channels outputChannels: Int) -> [Int] {
        [batch, geometry.outputHeight, geometry.outputWidth, outputChannels]
    }

    var testDescription: String {
        "\(batch)x\(height)x\(width)x\(channels) k\(kernelSize) s\(stride) \(padding)"
    }

    /// Every combination of kernel 1/3/5, stride 1/2, valid/same padding and 3/8/16 channels, on a
    /// 7x9 input, alternating batch 3 and 1 so both batch sizes meet every kernel size; plus two
    /// even-sized inputs.
    static let all: [WindowCase] = {
        var cases: [WindowCase] = []
        for kernelSize in [1, 3, 5] {
            for stride in [1, 2] {
                for padding in Padding.allCases {
                    for channels in [3, 8, 16] {
                        let batch = cases.count % 2 == 0 ? 3 : 1
                        cases.append(WindowCase(batch: batch, height: 7, width: 9, channels: channels,
                                                kernelSize: kernelSize, stride: stride, padding: padding))
                    }
                }
            }
        }
        // Square even-sized inputs: stride 2 with same padding pads only bottom/right; 2x2 windows.
        cases.append(WindowCase(batch: 3, height: 8, width: 8, channels: 8, kernelSize: 3, stride: 2, padding: .same))
        cases.append(WindowCase(batch: 3, height: 8, width: 8, channels: 3, kernelSize: 2, stride: 2, padding: .valid))
        return cases + multiChunk
    }()

    /// Batches of images large enough (about 8,000+ floats each) that the kernels split them over
    /// several `Parallel` chunks: small images stay on one thread however large the batch.
    static let multiChunk: [WindowCase] = [
        WindowCase(batch: 3, height: 23, width: 25, channels: 16, kernelSize: 3, stride: 1, padding: .same),
        WindowCase(batch: 3, height: 33, width: 33, channels: 8, kernelSize: 5, stride: 2, padding: .valid),
        WindowCase(batch: 3, height: 23, width: 25, channels: 16, kernelSize: 1, stride: 1, padding: .valid),
        WindowCase(batch: 3, height: 53, width: 53, channels: 3, kernelSize: 3, stride: 2, padding: .same),
    ]
}

/// A tensor of `shape` filled with reproducible values in `range`.
func randomTensor(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) -> Tensor {
    Tensor(shape: shape, values: randomValues(shape.reduce(1, *), seed: seed, in: range))
}

/// A tensor of `shape` filled with a value no kernel produces here, to show that kernels which
/// promise to overwrite their output really do.
func garbageTensor(_ shape: [Int]) -> Tensor {
    Tensor(shape: shape, repeating: 123.25)
}
