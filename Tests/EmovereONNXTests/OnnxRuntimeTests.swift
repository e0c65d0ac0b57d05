import Emovere
import EmovereCore
import EmovereNN
import EmovereTensor
import SwiftProtobuf
import Testing

@testable import EmovereONNX

/// The exported graphs run in ONNX Runtime give Emovere's probabilities (max abs difference 1e-4).
@Suite(.serialized) struct OnnxRuntimeTests {
    static let tolerance: Float = 1e-4

    /// Emovere's and ONNX Runtime's probabilities for `input`, and their largest difference.
    private func compare(onnx bytes: [UInt8], input: Tensor, expected: [Float], classes: Int) throws -> Float {
        let (shape, values) = try OnnxRuntimeRunner.probabilities(model: bytes, input: input)
        #expect(shape == [input.shape[0], classes])
        return TestModels.maximumDifference(values, expected)
    }

    @Test(arguments: [true, false], TestModels.bundledFiles)
    func bundledModelMatchesEmovere(folded: Bool, file: String) throws {
        let (reference, card) = try TestModels.bundled(folded: false, file: file)
        let (model, _) = try TestModels.bundled(folded: folded, file: file)
        let bytes = try ONNXExporter.export(model, card: card)
        let size = card.architecture.inputSize
        let random = TestModels.randomInput(count: 16, shape: [size, size, 1], seed: 11)
        let faces = try TestModels.faceCrops(preprocessing: card.preprocessing)
        for input in [random, faces] {
            let expected = reference.probabilities(input).values
            let difference = try compare(onnx: bytes, input: input, expected: expected, classes: 7)
            #expect(difference <= Self.tolerance, "max abs difference \(difference) on \(input.shape[0]) inputs")
        }
    }

    /// A randomly initialised network (64x64 mini-Xception; the `standard` wide-xception with its
    /// strided stem and dense head) with non-trivial batch-norm statistics, exported with
    /// BatchNormalization nodes and again after folding them into the convolutions.
    @Test(arguments: [("mini-xception", 64), ("wide-xception", 48)])
    func randomModelMatchesEmovere(name: String, inputSize: Int) throws {
        let architecture = Architecture(name: name, inputSize: inputSize)
        let model = try Model(architecture: architecture, seed: 5)
        TestModels.randomizeBatchNorms(model.parameters, seed: 17)
        let card = ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: inputSize),
                             parameterCount: model.parameterCount)
        let input = TestModels.randomInput(count: 8, shape: [inputSize, inputSize, 1], seed: 23)
        let expected = model.probabilities(input).values
        // The statistics matter: the same network with identity batch norms answers differently.
        let plain = try Model(architecture: architecture, seed: 5)
        #expect(TestModels.maximumDifference(plain.probabilities(input).values, expected) > 1e-3)

        let unfolded = try ONNXExporter.export(model, card: card)
        let unfoldedDifference = try compare(onnx: unfolded, input: input, expected: expected, classes: 7)
        #expect(unfoldedDifference <= Self.tolerance, "with BatchNormalization: max abs difference \(unfoldedDifference)")
        let folded = try ONNXExporter.export(try model.inferenceModel(), card: card)
        let foldedDifference = try compare(onnx: folded, input: input, expected: expected, classes: 7)
        #expect(foldedDifference <= Self.tolerance, "folded: max abs difference \(foldedDifference)")
    }

    /// A single-view card's temperature is in the exported graph (the probabilities Emovere shows); a card that
    /// averages several views applies its temperature to the average, so its graph has none; the metadata says which.
    @Test(arguments: [(nil, 0.2), (TestTimeAugmentation.flip, 1)] as [(TestTimeAugmentation?, Float)])
    func cardTemperatureIsApplied(views: TestTimeAugmentation?, applied: Float) throws {
        let architecture = Architecture(name: "mini-xception", inputSize: 48)
        let model = try Model(architecture: architecture, seed: 5)
        var card = ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: 48),
                             parameterCount: model.parameterCount)
        card.temperatures = [.none: 0.2, .flip: 0.5]
        card.testTimeAugmentation = views
        let input = TestModels.randomInput(count: 8, shape: [48, 48, 1], seed: 23)
        let plain = model.probabilities(input).values
        let expected = Calibration.scaled(plain, classes: 7, temperature: applied)
        if applied != 1 {
            #expect(TestModels.maximumDifference(plain, expected) > 1e-2, "the temperature changes the probabilities")
        }
        let bytes = try ONNXExporter.export(model, card: card)
        let difference = try compare(onnx: bytes, input: input, expected: expected, classes: 7)
        #expect(difference <= Self.tolerance, "max abs difference \(difference)")
        let metadata = Dictionary(uniqueKeysWithValues: try Onnx_ModelProto(serializedBytes: bytes).metadataProps
            .map { ($0.key, $0.value) })
        #expect(metadata["temperature"] == "\(applied)" && metadata["test_time_augmentation"] == (views ?? .none).rawValue
                && metadata["preprocessing_face_margin"] == "0.0", "\(metadata)")
    }

    /// Layers and options mini-Xception does not use: a non-square two-channel input, strided 'same'
    /// convolution with bias, unfused ReLU, 'same' average pooling, a residual block without shortcut,
    /// dropout, 'valid' max pooling, and a dense layer on an image (flattened in NHWC order).
    @Test func genericLayersMatchEmovere() throws {
        let network = Sequential {
            Conv2d(filters: 4, kernelSize: 3, stride: 2, padding: .same)
            BatchNorm()
            ReLU()
            Pool2d.average(poolSize: 3, stride: 1, padding: .same)
            Residual {
                DepthwiseConv2d(kernelSize: 3, padding: .same)
                ReLU()
                SeparableConv2d(filters: 4, kernelSize: 2, padding: .same)
            }
            Dropout(rate: 0.5)
            Pool2d.max(poolSize: 2)
            Dense(units: 5)
        }
        let shape = [13, 11, 2]
        var random = SplitMix64(seed: 3)
        #expect(try network.build(inputShape: shape, random: &random) == [5])
        TestModels.randomizeBatchNorms(network.namedParameters, seed: 29)
        for named in network.namedParameters where named.name.hasSuffix("bias") {
            let values = TestModels.randomInput(count: 1, shape: named.parameter.value.shape, seed: 31)
            named.parameter.value.pointer.update(from: values.pointer, count: values.count)
        }
        let input = TestModels.randomInput(count: 6, shape: shape, seed: 37)
        let expected = TestModels.softmax(network.forward(input, mode: .inference))
        let proto = try ONNXExporter.modelProto(network: network, inputShape: shape, name: "generic",
                                                documentation: "", metadata: [:])
        let difference = try compare(onnx: try proto.serializedBytes(), input: input, expected: expected, classes: 5)
        #expect(difference <= Self.tolerance, "max abs difference \(difference)")
    }
}
