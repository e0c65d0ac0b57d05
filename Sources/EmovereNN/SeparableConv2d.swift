import EmovereCore
import EmovereTensor

/// A depthwise-separable convolution (Keras `SeparableConv2D`, depth multiplier 1): a depthwise
/// `K x K` convolution followed by a pointwise 1x1 convolution to `filters` channels.
/// `[N, H, W, C] -> [N, OH, OW, filters]`; parameters `depthwise_kernel [K, K, C, 1]`,
/// `pointwise_kernel [1, 1, C, filters]`, optional `bias [filters]`.
public final class SeparableConv2d: Layer {
    public let depthwise: DepthwiseConv2d
    public let pointwise: Conv2d

    public init(filters: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .same, usesBias: Bool = true) {
        depthwise = DepthwiseConv2d(kernelSize: kernelSize, stride: stride, padding: padding)
        pointwise = Conv2d(filters: filters, kernelSize: 1, usesBias: usesBias)
    }

    public func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
        let middle = try depthwise.build(inputShape: inputShape, random: &random)
        return try pointwise.build(inputShape: middle, random: &random)
    }

    public var multiplyAdds: Int { depthwise.multiplyAdds + pointwise.multiplyAdds }

    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor {
        pointwise.forward(depthwise.forward(input, mode: mode), mode: mode)
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let middle = pointwise.backward(outputGradient, needsInputGradient: true) else { return nil }
        return depthwise.backward(middle, needsInputGradient: needsInputGradient)
    }

    public var namedParameters: [NamedParameter] {
        depthwise.namedParameters.map { NamedParameter(name: "depthwise_kernel", parameter: $0.parameter) }
            + pointwise.namedParameters.map {
                NamedParameter(name: $0.name == "kernel" ? "pointwise_kernel" : $0.name, parameter: $0.parameter)
            }
    }
}
