import EmovereNN
import EmovereTensor

/// Translation of Emovere layers into ONNX nodes, walking the layer tree. Each layer is exported in
/// its current inference form: a batch norm already folded into its convolution is skipped, fused
/// ReLUs are emitted where they run, dropout is the identity.
extension GraphBuilder {
    /// Appends the nodes computing `layer` (found at `path`, parameter-style: `"3.main.0"`) on `input`.
    mutating func add(_ layer: any Layer, path: String, input: GraphValue) throws(ONNXExportError) -> GraphValue {
        switch layer {
        case let container as any LayerGraph:
            let outputs = try container.walk(input: input, layer: { _, node, child, value throws(ONNXExportError) in
                try add(child, path: Self.join(path, node.name), input: value)
            }, add: { _, node, values throws(ONNXExportError) in
                var sum = values[0]
                for (index, value) in values.dropFirst().enumerated() {
                    let name = Self.join(path, node.name) + (index == 0 ? "/Add" : "/Add\(index)")
                    sum = GraphValue(name: addNode("Add", name: name, inputs: [sum.name, value.name]), shape: sum.shape)
                }
                return sum
            })
            guard outputs.count == 1 else {
                throw .unsupportedLayer(type: "\(Self.typeName(layer)) with \(outputs.count) outputs", path: path)
            }
            return outputs[0]
        case let separable as SeparableConv2d:
            let middle = try add(separable.depthwise, path: Self.join(path, "depthwise"), input: input)
            return try add(separable.pointwise, path: Self.join(path, "pointwise"), input: middle)
        case let convolution as Conv2d:
            let output = try addConvolution(
                layer: convolution, kernel: convolution.kernel, bias: convolution.bias, kernelSize: convolution.kernelSize,
                stride: convolution.stride, padding: convolution.padding, path: path, input: input)
            return convolution.appliesReLU ? addReLU(path: path, input: output) : output
        case let depthwise as DepthwiseConv2d:
            let output = try addConvolution(
                layer: depthwise, kernel: depthwise.kernel, bias: depthwise.bias, kernelSize: depthwise.kernelSize,
                stride: depthwise.stride, padding: depthwise.padding, path: path, input: input)
            return depthwise.appliesReLU ? addReLU(path: path, input: output) : output
        case let norm as BatchNorm:
            if norm.isFolded { return input }
            let output = try addBatchNorm(norm, path: path, input: input)
            return norm.appliesReLU ? addReLU(path: path, input: output) : output
        case let relu as ReLU:
            return relu.isFused ? input : addReLU(path: path, input: input)
        case let pool as Pool2d:
            return try addPool(pool, path: path, input: input)
        case is GlobalAveragePool2d:
            try Self.requireImage(layer, path: path, input: input)
            let pooled = addNode("GlobalAveragePool", name: "\(path)/GlobalAveragePool", inputs: [input.name])
            return GraphValue(name: addNode("Flatten", name: "\(path)/Flatten", inputs: [pooled],
                                            attributes: [.init("axis", int: 1)]),
                              shape: [input.shape[2]])
        case let dense as Dense:
            return try addDense(dense, path: path, input: input)
        case is Dropout:
            return input
        case is Sigmoid:
            return GraphValue(name: addNode("Sigmoid", name: "\(path)/Sigmoid", inputs: [input.name]), shape: input.shape)
        case let upsample as Upsample2d:
            try Self.requireImage(layer, path: path, input: input)
            let factor = Float(upsample.factor)
            let scales = addInitializer("\(path).scales", shape: [4], values: [1, 1, factor, factor])
            let name = addNode("Resize", name: "\(path)/Resize", inputs: [input.name, "", scales],
                               attributes: [.init("mode", string: "nearest"),
                                            .init("coordinate_transformation_mode", string: "asymmetric"),
                                            .init("nearest_mode", string: "floor")])
            return GraphValue(name: name, shape: [input.shape[0] * upsample.factor, input.shape[1] * upsample.factor,
                                                  input.shape[2]])
        default:
            throw .unsupportedLayer(type: Self.typeName(layer), path: path)
        }
    }

    /// A convolution with kernel `[K, K, C, F]` (HWIO), or a depthwise one (`[K, K, C, 1]`, one group per
    /// channel), as ONNX `Conv` with an OIHW kernel and explicit pads.
    private mutating func addConvolution(
        layer: any Layer, kernel: Parameter?, bias: Parameter?, kernelSize: Int, stride: Int, padding: Padding,
        path: String, input: GraphValue
    ) throws(ONNXExportError) -> GraphValue {
        try Self.requireImage(layer, path: path, input: input)
        guard let kernel else { throw .unbuiltLayer(type: Self.typeName(layer), path: path) }
        let shape = kernel.value.shape
        let isDepthwise = layer is DepthwiseConv2d
        // HWIO -> OIHW; a depthwise [K, K, C, 1] -> [C, 1, K, K].
        let permutation = isDepthwise ? [2, 3, 0, 1] : [3, 2, 0, 1]
        let weights = addInitializer(
            "\(path).kernel", shape: permutation.map { shape[$0] },
            values: Self.permuted(kernel.value.values, shape: shape, permutation: permutation))
        var inputs = [input.name, weights]
        if let bias { inputs.append(addInitializer("\(path).bias", shape: bias.value.shape, values: bias.value.values)) }
        let geometry = Self.geometry(input: input, kernelSize: kernelSize, stride: stride, padding: padding)
        var attributes = Self.windowAttributes(geometry)
        if isDepthwise { attributes.append(.init("group", int: input.shape[2])) }
        let name = addNode("Conv", name: "\(path)/Conv", inputs: inputs, attributes: attributes)
        let channels = isDepthwise ? input.shape[2] : shape[3]
        return GraphValue(name: name, shape: [geometry.outputHeight, geometry.outputWidth, channels])
    }

    /// Batch normalisation with the running statistics (inference form) over the channel axis 1.
    private mutating func addBatchNorm(_ norm: BatchNorm, path: String, input: GraphValue) throws(ONNXExportError)
        -> GraphValue
    {
        guard let gamma = norm.gamma, let beta = norm.beta, let mean = norm.runningMean,
              let variance = norm.runningVariance
        else { throw .unbuiltLayer(type: "BatchNorm", path: path) }
        let statistics = [("gamma", gamma), ("beta", beta), ("moving_mean", mean), ("moving_variance", variance)]
            .map { addInitializer("\(path).\($0.0)", shape: $0.1.value.shape, values: $0.1.value.values) }
        let name = addNode("BatchNormalization", name: "\(path)/BatchNormalization", inputs: [input.name] + statistics,
                           attributes: [.init("epsilon", float: norm.epsilon)])
        return GraphValue(name: name, shape: input.shape)
    }

    private mutating func addReLU(path: String, input: GraphValue) -> GraphValue {
        GraphValue(name: addNode("Relu", name: "\(path)/Relu", inputs: [input.name]), shape: input.shape)
    }

    /// Max or average pooling; padded positions never count, as in Emovere (`count_include_pad` 0).
    private mutating func addPool(_ pool: Pool2d, path: String, input: GraphValue) throws(ONNXExportError) -> GraphValue {
        try Self.requireImage(pool, path: path, input: input)
        let geometry = Self.geometry(input: input, kernelSize: pool.poolSize, stride: pool.stride, padding: pool.padding)
        var attributes = Self.windowAttributes(geometry)
        let operation: String
        switch pool.reduction {
        case .maximum:
            operation = "MaxPool"
        case .average:
            operation = "AveragePool"
            attributes.append(.init("count_include_pad", int: 0))
        }
        let name = addNode(operation, name: "\(path)/\(operation)", inputs: [input.name], attributes: attributes)
        return GraphValue(name: name, shape: [geometry.outputHeight, geometry.outputWidth, input.shape[2]])
    }

    /// `x · kernel + bias` as `Gemm`. An image input is flattened in Emovere's NHWC order first.
    private mutating func addDense(_ dense: Dense, path: String, input: GraphValue) throws(ONNXExportError) -> GraphValue {
        guard let kernel = dense.kernel else { throw .unbuiltLayer(type: "Dense", path: path) }
        var features = input.name
        if input.shape.count != 1 {
            try Self.requireImage(dense, path: path, input: input)
            let channelsLast = addNode("Transpose", name: "\(path)/Transpose", inputs: [input.name],
                                       attributes: [.init("perm", ints: [0, 2, 3, 1])])
            features = addNode("Flatten", name: "\(path)/Flatten", inputs: [channelsLast],
                               attributes: [.init("axis", int: 1)])
        }
        var inputs = [features, addInitializer("\(path).kernel", shape: kernel.value.shape, values: kernel.value.values)]
        if let bias = dense.bias {
            inputs.append(addInitializer("\(path).bias", shape: bias.value.shape, values: bias.value.values))
        }
        return GraphValue(name: addNode("Gemm", name: "\(path)/Gemm", inputs: inputs), shape: [dense.units])
    }

    /// Emovere's window geometry for `input` `[H, W, C]`.
    private static func geometry(input: GraphValue, kernelSize: Int, stride: Int, padding: Padding) -> ConvolutionGeometry {
        ConvolutionGeometry(inputHeight: input.shape[0], inputWidth: input.shape[1], channels: input.shape[2],
                            kernelSize: kernelSize, stride: stride, padding: padding)
    }

    /// The window attributes `kernel_shape`, `strides` and explicit `pads` `[top, left, bottom, right]`.
    /// Emovere's 'same' padding puts the odd pixel at the bottom/right; the end pads take whatever the
    /// last window needs beyond the input, so the output size matches Emovere's exactly.
    private static func windowAttributes(_ g: ConvolutionGeometry) -> [Onnx_AttributeProto] {
        let padBottom = max(0, (g.outputHeight - 1) * g.stride + g.kernelHeight - g.inputHeight - g.padTop)
        let padRight = max(0, (g.outputWidth - 1) * g.stride + g.kernelWidth - g.inputWidth - g.padLeft)
        return [.init("kernel_shape", ints: [g.kernelHeight, g.kernelWidth]),
                .init("strides", ints: [g.stride, g.stride]),
                .init("pads", ints: [g.padTop, g.padLeft, padBottom, padRight])]
    }

    private static func requireImage(_ layer: any Layer, path: String, input: GraphValue) throws(ONNXExportError) {
        guard input.shape.count == 3 else {
            throw .invalidInputShape(type: typeName(layer), path: path, expected: "[height, width, channels]",
                                     received: input.shape)
        }
    }

    private static func typeName(_ layer: any Layer) -> String {
        String(describing: type(of: layer))
    }

    /// `component` below `path` in the dotted layer path.
    private static func join(_ path: String, _ component: String) -> String {
        path.isEmpty ? component : "\(path).\(component)"
    }
}
