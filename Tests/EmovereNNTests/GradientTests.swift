import EmovereCore
import EmovereNN
import EmovereTensor
import EmovereTestSupport
import Testing

/// Every layer's backward pass against central finite differences.
struct GradientTests {
    nonisolated(unsafe) static let cases: [(String, () -> any Layer, [Int])] = [
        ("conv3x3 valid", { Conv2d(filters: 4, kernelSize: 3) }, [6, 5, 3]),
        ("conv3x3 same stride2", { Conv2d(filters: 3, kernelSize: 3, stride: 2, padding: .same) }, [7, 6, 2]),
        ("conv1x1 stride2 same no bias", { Conv2d(filters: 5, kernelSize: 1, stride: 2, padding: .same, usesBias: false) }, [5, 5, 3]),
        ("conv1x1 pointwise", { Conv2d(filters: 4, kernelSize: 1) }, [3, 4, 8]),
        ("conv5x5 same", { Conv2d(filters: 2, kernelSize: 5, padding: .same) }, [6, 6, 2]),
        ("depthwise 3x3 same, 8 channels (SIMD)", { DepthwiseConv2d(kernelSize: 3) }, [5, 6, 8]),
        ("depthwise 3x3 valid stride2, 3 channels", { DepthwiseConv2d(kernelSize: 3, stride: 2, padding: .valid) }, [7, 7, 3]),
        ("separable", { SeparableConv2d(filters: 6, kernelSize: 3, usesBias: true) }, [5, 5, 8]),
        ("batch norm", { BatchNorm() }, [3, 3, 5]),
        ("relu", { ReLU() }, [4, 4, 3]),
        ("max pool 3 stride 2 same", { Pool2d.max(poolSize: 3, stride: 2, padding: .same) }, [7, 6, 3]),
        ("average pool 2", { Pool2d.average(poolSize: 2) }, [6, 6, 3]),
        ("average pool 3 stride 2 same", { Pool2d.average(poolSize: 3, stride: 2, padding: .same) }, [5, 5, 2]),
        ("global average pool", { GlobalAveragePool2d() }, [3, 4, 5]),
        ("dense", { Dense(units: 5) }, [7]),
        ("dense on images", { Dense(units: 3) }, [2, 3, 2]),
        ("residual with shortcut", {
            // No bias before batch norm: its true gradient is exactly zero, where finite differences only see noise.
            Residual { Conv2d(filters: 4, kernelSize: 3, padding: .same, usesBias: false); BatchNorm() } shortcut: { Conv2d(filters: 4, kernelSize: 1) }
        }, [4, 4, 2]),
        ("residual identity", { Residual { Conv2d(filters: 3, kernelSize: 3, padding: .same) } }, [4, 4, 3]),
        ("conv3x3 symmetric stride2", { Conv2d(filters: 3, kernelSize: 3, stride: 2, padding: .symmetric) }, [6, 8, 2]),
        ("depthwise 3x3 symmetric with bias", { DepthwiseConv2d(kernelSize: 3, padding: .symmetric, usesBias: true) }, [5, 4, 3]),
        ("upsample x2", { Upsample2d(factor: 2) }, [3, 4, 2]),
        ("sigmoid", { Sigmoid() }, [3, 3, 2]),
        ("graph: fan-out, pyramid sum, three-way sum", {
            // x -> conv(stride 2) -> upsample, summed with x and with a second branch reading x (fan-out).
            try! Graph(nodes: [
                .layer("down", Conv2d(filters: 2, kernelSize: 3, stride: 2, padding: .symmetric), input: .input),
                .layer("up", Upsample2d(factor: 2), input: .node(0)),
                .layer("side", DepthwiseConv2d(kernelSize: 3, padding: .symmetric, usesBias: true), input: .input),
                GraphNode(name: "sum", operation: .add, inputs: [.node(1), .input, .node(2)]),
                .layer("head", Sigmoid(), input: .node(3)),
            ], outputs: [.node(4)])
        }, [4, 6, 2]),
    ]

    @Test(arguments: 0..<cases.count)
    func backwardMatchesFiniteDifferences(caseIndex: Int) throws {
        let (name, make, shape) = Self.cases[caseIndex]
        let layer = make()
        let result = try gradientCheck(layer, inputShape: shape, batch: 3)
        #expect(result.worst < 2e-2, "\(name): \(result)")
        // Every trainable parameter was compared, and some elements of each.
        let trainable = layer.namedParameters.filter { $0.parameter.isTrainable }.map(\.name)
        #expect(Set(result.parameterErrors.keys) == Set(trainable) && result.checked > 0, "\(name): \(result)")
    }

    /// A layer whose backward pass is wrong: a constant factor, or NaN in one element (which `max` alone would skip).
    final class Miscounted: Layer {
        let dense = Dense(units: 3)
        let damage: (Tensor) -> Void
        /// Applied to the kernel's gradient after each backward pass.
        let kernelDamage: (Tensor) -> Void
        init(damage: @escaping (Tensor) -> Void = { _ in }, kernelDamage: @escaping (Tensor) -> Void = { _ in }) {
            self.damage = damage
            self.kernelDamage = kernelDamage
        }
        func build(inputShape: [Int], random: inout SplitMix64) throws(ModelError) -> [Int] {
            try dense.build(inputShape: inputShape, random: &random)
        }
        func forward(_ input: Tensor, mode: ForwardMode) -> Tensor { dense.forward(input, mode: mode) }
        func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
            let gradient = dense.backward(outputGradient, needsInputGradient: needsInputGradient)
            if let gradient { damage(gradient) }
            if let kernel = dense.kernel { kernelDamage(kernel.gradient) }
            return gradient
        }
        var namedParameters: [NamedParameter] { dense.namedParameters }
    }

    /// The checks themselves fail on a wrong backward pass: halved everywhere, NaN in one input element, a
    /// parameter's gradient halved, or one channel's gradient wrong (every channel is sampled).
    @Test func checksCatchWrongGradients() throws {
        let halved = try gradientCheck(Miscounted(damage: { for index in 0..<$0.count { $0[index] *= 0.5 } }), inputShape: [6])
        #expect(halved.inputError > 0.2, "\(halved)")
        let kernel = try gradientCheck(Miscounted(kernelDamage: { for index in 0..<$0.count { $0[index] *= 0.5 } }),
                                       inputShape: [6])
        #expect(kernel.inputError < 2e-2 && (kernel.parameterErrors["kernel"] ?? 0) > 0.2, "\(kernel)")
        // [batch 3, 40 values, 8 channels]: 960 elements, 40 samples; a step of 24 (a multiple of 8) saw channel 0 only.
        let oneChannel = try gradientCheck(Miscounted(damage: { for index in stride(from: 5, to: $0.count, by: 8) { $0[index] *= 0.5 } }),
                                           inputShape: [40, 8], batch: 3)
        #expect(oneChannel.inputError > 0.2, "\(oneChannel)")
        let poisoned = try gradientCheck(Miscounted(damage: { $0[1] = .nan }), inputShape: [6])
        #expect(poisoned.inputError == .infinity && !(poisoned.worst < 2e-2), "\(poisoned)")
        let directional = try directionalGradientCheck(Miscounted(damage: { $0[0] = .nan }), inputShape: [6], directions: 3)
        #expect(!(directional < 1e-2), "\(directional)")
    }

    /// Both outputs of a two-headed graph carry gradient back through the shared trunk.
    @Test func graphWithTwoOutputsSumsTheirGradients() throws {
        func graph() throws -> Graph {
            try Graph(nodes: [
                .layer("trunk", Conv2d(filters: 3, kernelSize: 3, padding: .symmetric), input: .input),
                .layer("a", Sigmoid(), input: .node(0)),
                .layer("b", Conv2d(filters: 2, kernelSize: 1), input: .node(0)),
            ], outputs: [.node(1), .node(2)])
        }
        var random = SplitMix64(seed: 5)
        let network = try graph()
        _ = try network.build(inputShape: [4, 4, 2], random: &random)
        #expect(network.outputShapes == [[4, 4, 3], [4, 4, 2]])
        let input = Tensor(shape: [2, 4, 4, 2], values: (0..<64).map { _ in random.nextFloat(in: -1...1) })
        let weightsA = (0..<96).map { _ in random.nextFloat(in: -1...1) }
        let weightsB = (0..<64).map { _ in random.nextFloat(in: -1...1) }
        func loss() -> Double {
            let outputs = network.forwardAll(input, mode: ForwardMode(isTraining: true))
            return zip(outputs[0].values, weightsA).reduce(0) { $0 + Double($1.0 * $1.1) }
                + zip(outputs[1].values, weightsB).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
        _ = network.forwardAll(input, mode: ForwardMode(isTraining: true))
        let gradient = try #require(network.backward(
            outputGradients: [Tensor(shape: [2, 4, 4, 3], values: weightsA), Tensor(shape: [2, 4, 4, 2], values: weightsB)],
            needsInputGradient: true)).values
        for index in stride(from: 0, to: 64, by: 7) {
            let original = input[index]
            input[index] = original + 1e-2
            let plus = loss()
            input[index] = original - 1e-2
            let minus = loss()
            input[index] = original
            let numeric = Float((plus - minus) / 2e-2)
            #expect(abs(numeric - gradient[index]) <= 2e-2 * max(1, abs(numeric)), "input \(index): \(gradient[index]) vs \(numeric)")
        }
        #expect(throws: ModelError.self) { try Graph(nodes: [.layer("x", ReLU(), input: .node(0))], outputs: [.node(0)]) }
        #expect(throws: ModelError.self) {
            try Graph(nodes: [GraphNode(name: "s", operation: .add, inputs: [.input])], outputs: [.node(0)])
        }
    }

    @Test func dropoutBackwardUsesTheSameMask() throws {
        // Dropout's mask is fixed by the seed, so finite differences see the same mask every call.
        let result = try gradientCheck(Dropout(rate: 0.4), inputShape: [10], batch: 3,
                                       mode: ForwardMode(isTraining: true, seed: 7))
        #expect(result.worst < 2e-2, "\(result)")
        // And it drops: about the rate's share of elements are zero, the rest scaled by 1 / (1 - rate); inference
        // passes the input through (an identity "dropout" passed the gradient check alone).
        let dropout = Dropout(rate: 0.4)
        var random = SplitMix64(seed: 3)
        _ = try dropout.build(inputShape: [1000], random: &random)
        let input = Tensor(shape: [2, 1000], values: (0..<2000).map { _ in random.nextFloat(in: 0.5...1.5) })
        let output = dropout.forward(input, mode: ForwardMode(isTraining: true, seed: 11)).values
        let dropped = output.filter { $0 == 0 }.count
        #expect((700...900).contains(dropped), "\(dropped) of 2000 dropped at rate 0.4")
        var unscaled = 0
        for (kept, original) in zip(output, input.values) where kept != 0 {
            let expected: Float = original / 0.6
            if abs(kept - expected) > 1e-5 * expected { unscaled += 1 }
        }
        #expect(unscaled == 0, "\(unscaled) kept elements not scaled by 1 / 0.6")
        #expect(dropout.forward(input, mode: .inference).values == input.values)
    }

    /// The whole network, ReLU and max-pool kinks included: nearly every element must agree.
    @Test func miniXceptionWholeNetwork() throws {
        let error = try directionalGradientCheck(MiniXception.network(), inputShape: [20, 20, 1], batch: 8)
        // 20x20 input leaves 1x1 maps in the last module, where batch norm over 8 values is ill-conditioned;
        // a wrong backward pass gives errors of order 1.
        #expect(error < 5e-2)
    }

    /// The `standard` network's layout (strided stem, ReLU after each residual sum, dropout and dense
    /// head) with narrow modules; the dropout mask is fixed by the mode's seed.
    @Test func wideXceptionWholeNetwork() throws {
        let network = WideXception.network(moduleFilters: [4, 8, 8], dropout: 0.2)
        let error = try directionalGradientCheck(network, inputShape: [24, 24, 1], batch: 6)
        #expect(error < 5e-2)
    }

    @Test(arguments: [6, 7, 11])
    func miniXceptionResidualModule(size: Int) throws {
        let module = Residual {
            SeparableConv2d(filters: 8, kernelSize: 3, usesBias: false)
            BatchNorm()
            ReLU()
            SeparableConv2d(filters: 8, kernelSize: 3, usesBias: false)
            BatchNorm()
            Pool2d.max(poolSize: 3, stride: 2, padding: .same)
        } shortcut: {
            Conv2d(filters: 8, kernelSize: 1, stride: 2, padding: .same, usesBias: false)
            BatchNorm()
        }
        // ReLU and max-pool kinks straddled by the step leave errors of a few 1e-3 to 1e-2 (measured);
        // a wrong backward pass gives errors of order 1.
        let error = try directionalGradientCheck(module, inputShape: [size, size, 8], batch: 3)
        #expect(error < 5e-2)
    }

    /// Two copies of `make()` built with the same weights, the second with its activations fused.
    static func separateAndFused(_ make: () -> Sequential, inputShape: [Int], seed: UInt64) throws
        -> (separate: Sequential, fused: Sequential) {
        let (separate, fused) = (make(), make())
        for network in [separate, fused] {
            var random = SplitMix64(seed: seed)
            _ = try network.build(inputShape: inputShape, random: &random)
        }
        fused.fuseActivations()
        return (separate, fused)
    }

    /// Batch norm with its ReLU fused in gives the same outputs and gradients as the two layers apart.
    @Test func fusedBatchNormReLUMatchesSeparateLayers() throws {
        func make() -> Sequential {
            Sequential { Conv2d(filters: 8, kernelSize: 3, padding: .same); BatchNorm(); ReLU(); Conv2d(filters: 3, kernelSize: 1) }
        }
        let (separate, fused) = try Self.separateAndFused(make, inputShape: [6, 6, 2], seed: 5)
        #expect((fused.layers[1] as? BatchNorm)?.appliesReLU == true)
        let input = Tensor(shape: [3, 6, 6, 2], values: randomValues(216, seed: 6))
        let mode = ForwardMode(isTraining: true)
        let expected = separate.forward(input, mode: mode).values
        let actual = fused.forward(input, mode: mode).values
        #expect(closeness(actual, expected) <= 1)
        let gradient = Tensor(shape: [3, 6, 6, 3], values: randomValues(324, seed: 7))
        let expectedInput = separate.backward(gradient, needsInputGradient: true)!.values
        let actualInput = fused.backward(gradient, needsInputGradient: true)!.values
        #expect(closeness(actualInput, expectedInput) <= 1)
        for (a, b) in zip(fused.namedParameters, separate.namedParameters) where a.parameter.isTrainable {
            #expect(closeness(a.parameter.gradient.values, b.parameter.gradient.values) <= 1, "\(a.name)")
        }
        let error = try directionalGradientCheck(
            { let network = make(); network.fuseActivations(); return network }(), inputShape: [6, 6, 2], batch: 3)
        #expect(error < 5e-2)
    }

    /// A residual block with the ReLU after it fused in gives the same outputs and gradients as the two apart, and
    /// passes guided gradients (`setReLUBackwardRule`) through its rectifier.
    @Test func fusedResidualReLUMatchesSeparateLayers() throws {
        func make() -> Sequential {
            Sequential {
                Residual {
                    Conv2d(filters: 4, kernelSize: 3, padding: .same)
                    BatchNorm()
                } shortcut: {
                    Conv2d(filters: 4, kernelSize: 1)
                }
                ReLU()
                Conv2d(filters: 3, kernelSize: 1)
            }
        }
        let (separate, fused) = try Self.separateAndFused(make, inputShape: [5, 5, 2], seed: 8)
        let block = try #require(fused.layers[0] as? Residual)
        #expect(block.rectifier != nil && (fused.layers[1] as? ReLU)?.isFused == true)
        #expect(block.nodes.map(\.name) == ["main", "shortcut", "add", "relu"])
        let input = Tensor(shape: [3, 5, 5, 2], values: randomValues(150, seed: 9))
        let mode = ForwardMode(isTraining: true)
        let rectified = fused.layers[0].forward(input, mode: .differentiableInference).values  // no statistics kept
        #expect(rectified.contains(0) && rectified.contains { $0 > 0 }, "both ReLU branches are exercised")
        #expect(fused.forward(input, mode: mode).values == separate.forward(input, mode: mode).values)
        let gradient = Tensor(shape: [3, 5, 5, 3], values: randomValues(225, seed: 10))
        #expect(fused.backward(gradient, needsInputGradient: true)!.values
            == separate.backward(gradient, needsInputGradient: true)!.values)
        for (a, b) in zip(fused.namedParameters, separate.namedParameters) where a.parameter.isTrainable {
            #expect(a.parameter.gradient.values == b.parameter.gradient.values, "\(a.name)")
        }
        let error = try directionalGradientCheck(
            { let network = make(); network.fuseActivations(); return network }(), inputShape: [5, 5, 2], batch: 3)
        #expect(error < 5e-2)

        for network in [separate, fused] { network.setReLUBackwardRule(.guided) }
        #expect(block.rectifier?.backwardRule == .guided)
        _ = separate.forward(input, mode: .differentiableInference)
        _ = fused.forward(input, mode: .differentiableInference)
        #expect(fused.backward(gradient, needsInputGradient: true)!.values
            == separate.backward(gradient, needsInputGradient: true)!.values)
    }

    @Test func convolutionFollowedByReLU() throws {
        let error = try directionalGradientCheck(
            Sequential { Conv2d(filters: 4, kernelSize: 3, padding: .same); ReLU() }, inputShape: [5, 5, 2], batch: 3)
        #expect(error < 1e-2)
    }
}

struct ModelTests {
    @Test(arguments: [48, 64])
    func miniXceptionHasThePublishedParameterCount(inputSize: Int) throws {
        let model = try Model(architecture: Architecture(name: "mini-xception", inputSize: inputSize))
        #expect(model.parameterCount == 58_423)
        let logits = model.logits(Tensor(shape: [2, inputSize, inputSize, 1]))
        #expect(logits.shape == [2, 7])
    }

    /// Hand counts: mini-Xception 48 is 1.27 M (stem) + 1.22 + 1.01 + 0.92 + 1.02 M (modules) + 72,576
    /// (head); wide-xception 48 is 11.28 M (stem) + 16.33 + 15.83 + 15.58 M (modules) + 3,584 (dense).
    @Test(arguments: [("mini-xception", 58_423, 5_520_448), ("wide-xception", 733_671, 59_032_064)])
    func parametersAndMultiplyAddsAt48(name: String, parameters: Int, multiplyAdds: Int) throws {
        let model = try Model(architecture: Architecture(name: name, inputSize: 48))
        #expect(model.parameterCount == parameters)
        #expect(model.multiplyAddsPerFace == multiplyAdds)
        #expect(model.logits(Tensor(shape: [2, 48, 48, 1])).shape == [2, 7])
    }

    @Test func foldingBatchNormKeepsInferenceOutputs() throws {
        let model = try Model(architecture: Architecture(name: "mini-xception", inputSize: 48), seed: 3)
        // Give the batch norms non-trivial running statistics with a few training passes.
        let input = Tensor(shape: [4, 48, 48, 1], values: randomValues(4 * 48 * 48, seed: 9))
        for step in 0..<3 { _ = model.logits(input, mode: ForwardMode(isTraining: true, seed: UInt64(step))) }
        let expected = model.probabilities(input).values
        let folded = try model.inferenceModel().probabilities(input).values
        #expect(closeness(folded, expected, relativeTolerance: 1e-4, absoluteTolerance: 1e-6) <= 1)
    }

    @Test func largeBatchesRunInSlicesWithTheSameResults() throws {
        let model = try Model(architecture: Architecture(name: "tiny-cnn", inputSize: 12), seed: 4)
        let batch = Model.inferenceSlice * 2 + 3
        let input = Tensor(shape: [batch, 12, 12, 1], values: randomValues(batch * 144, seed: 8))
        let together = model.probabilities(input).values
        for image in [0, Model.inferenceSlice, batch - 1] {
            let single = Tensor(shape: [1, 12, 12, 1], values: Array(input.values[(image * 144)..<((image + 1) * 144)]))
            let alone = model.probabilities(single).values
            #expect(closeness(Array(together[(image * 7)..<((image + 1) * 7)]), alone, absoluteTolerance: 1e-6) <= 1)
        }
    }

    @Test func unknownArchitectureIsAnError() {
        #expect(throws: ModelError.self) { try Model(architecture: Architecture(name: "nope")) }
    }
}
