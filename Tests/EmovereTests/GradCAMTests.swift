@testable import Emovere
import EmovereCore
import EmovereNN
import EmovereTensor
import EmovereTestSupport
import EmovereVision
import Testing

/// Grad-CAM, guided backpropagation and guided Grad-CAM against hand-computed values, and their checks.
struct GradCAMTests {
    /// A 1x1 convolution to two channels (weights 1 and -1), ReLU, global average pooling and a dense layer
    /// `W = [[2, -1], [-3, 1]]`, `b = [0.1, -0.2]`, for 2x2 one-channel inputs.
    ///
    /// For `x = [1, -2, 3, 0.5]`: `A0 = ReLU(x) = [1, 0, 3, 0.5]`, `A1 = ReLU(-x) = [0, 2, 0, 0]`; pooled
    /// `[1.125, 0.5]`, logits `[0.85, -0.825]`, so class 0 is the top one.
    static func handBuiltNetwork() throws -> Sequential {
        let network = Sequential {
            Conv2d(filters: 2, kernelSize: 1, usesBias: false)
            ReLU()
            GlobalAveragePool2d()
            Dense(units: 2)
        }
        var random = SplitMix64(seed: 1)
        _ = try network.build(inputShape: [2, 2, 1], random: &random)
        let parameters = Dictionary(uniqueKeysWithValues: network.namedParameters.map { ($0.name, $0.parameter.value) })
        let values: [String: [Float]] = ["0.kernel": [1, -1], "3.kernel": [2, -1, -3, 1], "3.bias": [0.1, -0.2]]
        for (name, numbers) in values {
            let tensor = try #require(parameters[name], "no parameter \(name)")
            for (index, number) in numbers.enumerated() { tensor[index] = number }
        }
        return network
    }

    static let input: [Float] = [1, -2, 3, 0.5]

    @Test func handBuiltNetworkTopClass() throws {
        let gradCAM = try GradCAM(network: try Self.handBuiltNetwork(), inputShape: [2, 2, 1], layerIndex: 1)
        let explanation = try gradCAM.explain(Tensor(shape: [1, 2, 2, 1], values: Self.input))
        #expect(explanation.targetClasses == [0])
        #expect(gradCAM.layer == FeatureMapLayer(index: 1, kind: "ReLU", outputShape: [2, 2, 2]))
        #expect(closeness(explanation.probabilities.values, [0.84224, 0.15776]) <= 1)
        // Class 0: w = W[:, 0] / 4 = [0.5, -0.75]; ReLU(0.5 A0 - 0.75 A1) = [0.5, 0, 1.5, 0.25].
        #expect(closeness(explanation.coarseMaps.values, [0.5, 0, 1.5, 0.25]) <= 1)
        // Same size, so no interpolation; scaled by the maximum 1.5 (the minimum is 0).
        #expect(closeness(explanation.gradCAM.values, [1.0 / 3, 0, 1, 1.0 / 6]) <= 1)
        // The input gradient is [0.5, 0.75, 0.5, 0.5]: 0.5 through A0 where x > 0, and -0.75 * -1 through A1 at
        // x = -2. Guided, the negative -0.75 reaching A1 is stopped.
        #expect(closeness(explanation.guidedBackpropagation.values, [0.5, 0, 0.5, 0.5]) <= 1)
        #expect(closeness(explanation.guidedGradCAM.values, [0.5 / 3, 0, 0.5, 0.5 / 6]) <= 1)
    }

    @Test func handBuiltNetworkChosenClass() throws {
        let gradCAM = try GradCAM(network: try Self.handBuiltNetwork(), inputShape: [2, 2, 1], layerIndex: 1)
        let explanation = try gradCAM.explain(Tensor(shape: [1, 2, 2, 1], values: Self.input), targetClass: 1)
        #expect(explanation.targetClasses == [1])
        // Class 1: w = W[:, 1] / 4 = [-0.25, 0.25]; ReLU(-0.25 A0 + 0.25 A1) = [0, 0.5, 0, 0].
        #expect(closeness(explanation.coarseMaps.values, [0, 0.5, 0, 0]) <= 1)
        #expect(closeness(explanation.gradCAM.values, [0, 1, 0, 0]) <= 1)
        // Upstream gradients [-0.25, 0.25] per cell: guided, only A1's positive one passes, at x = -2, times -1.
        #expect(closeness(explanation.guidedBackpropagation.values, [0, -0.25, 0, 0]) <= 1)
        // The network's ReLUs are back on the true gradient afterwards.
        #expect((gradCAM.network.layers[1] as? ReLU)?.backwardRule == .gradient)
    }

    /// Bilinear upsampling with half-pixel centres: output pixel `i` of 4 samples the 2-pixel input at
    /// `(i + 0.5) / 2 - 0.5`, clamped: 0, 0.25, 0.75, 1.
    @Test func upsamplingUsesHalfPixelCentres() {
        let map: [Float] = [0, 1, 2, 3]
        var output = [Float](repeating: -1, count: 16)
        map.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                GradCAM.upsample(source.baseAddress!, height: 2, width: 2, into: target.baseAddress!, height: 4, width: 4)
            }
        }
        let steps: [Float] = [0, 0.25, 0.75, 1]
        let expected = steps.flatMap { row in steps.map { column in 2 * row + column } }
        #expect(closeness(output, expected) <= 1)
    }

    @Test func miniXceptionMapsAndBatchIndependence() throws {
        let model = try Model(architecture: Architecture(name: "mini-xception", inputSize: 48), seed: 7)
        let gradCAM = try GradCAM(model: model)
        #expect(gradCAM.layer == GradCAM.defaultLayer(among: gradCAM.featureMapLayers, classCount: 7))
        let pixels = 48 * 48
        let input = Tensor(shape: [3, 48, 48, 1], values: randomValues(3 * pixels, seed: 8))
        let batch = try gradCAM.explain(input)
        #expect(batch.gradCAM.shape == [3, 48, 48, 1])
        #expect(batch.guidedGradCAM.shape == [3, 48, 48, 1])
        let side = gradCAM.layer.outputShape[0]
        #expect(batch.coarseMaps.shape == [3, side, side, 1])
        for example in 0..<3 {
            // Scaled to span 0...1, or all zeros where no feature speaks for the class.
            let map = Array(batch.gradCAM.values[example * pixels..<(example + 1) * pixels])
            #expect(map.min() == 0 && (map.max() == 1 || map.allSatisfy { $0 == 0 }), "example \(example)")
        }
        #expect(batch.gradCAM.values[pixels..<2 * pixels].max() == 1, "the compared example has a map")
        let products = (0..<batch.guidedGradCAM.count).map { batch.guidedBackpropagation[$0] * batch.gradCAM[$0] }
        #expect(batch.guidedGradCAM.values == products)
        // Running statistics: each example's explanation is the same alone as in the batch.
        let single = Tensor(shape: [1, 48, 48, 1], values: Array(input.values[pixels..<2 * pixels]))
        let alone = try gradCAM.explain(single, targetClass: batch.targetClasses[1])
        #expect(closeness(alone.gradCAM.values, Array(batch.gradCAM.values[pixels..<2 * pixels]),
                          relativeTolerance: 1e-3, absoluteTolerance: 1e-4) <= 1)
        #expect(closeness(alone.guidedBackpropagation.values,
                          Array(batch.guidedBackpropagation.values[pixels..<2 * pixels]),
                          relativeTolerance: 1e-3, absoluteTolerance: 1e-6) <= 1)
        // Inference is unchanged afterwards.
        let probabilities = model.probabilities(single).values
        #expect(closeness(probabilities, Array(alone.probabilities.values), relativeTolerance: 1e-4) <= 1)
    }

    @Test func defaultLayerIsTheLastBeforeTheClassScores() throws {
        let miniXception = try GradCAM(model: try Model(architecture: Architecture(name: "mini-xception", inputSize: 48)))
        #expect(miniXception.layer == FeatureMapLayer(index: 9, kind: "Residual", outputShape: [3, 3, 128]))
        #expect(miniXception.featureMapLayers.map(\.index) == Array(0...10))
        let tiny = try GradCAM(model: try Model(architecture: Architecture(name: "tiny-cnn", inputSize: 48)))
        #expect(tiny.layer == FeatureMapLayer(index: 7, kind: "Pool2d", outputShape: [12, 12, 16]))
    }

    /// A ReLU fused into the batch norm or residual module before it is named so: the layer before outputs after the
    /// ReLU, and the ReLU repeats that output.
    @Test func fusedReLUsAreNamedAsTheirOutputIs() throws {
        let miniXception = try GradCAM(model: try Model(architecture: Architecture(name: "mini-xception", inputSize: 48)))
        let kinds = miniXception.featureMapLayers.map(\.kind)
        #expect(Array(kinds.prefix(3)) == ["Conv2d", "BatchNorm+ReLU", "ReLU, the output of layer 1"], "\(kinds)")
        let wide = try GradCAM(model: try Model(architecture: Architecture(name: "wide-xception", inputSize: 48)))
        #expect(wide.layer.index == 11 && wide.layer.kind == "ReLU, the output of layer 10", "\(wide.layer)")
        #expect(wide.featureMapLayers.first { $0.index == 10 }?.kind == "Residual+ReLU", "\(wide.featureMapLayers)")
    }

    @Test func invalidRequestsThrowDescriptiveErrors() throws {
        let model = try Model(architecture: Architecture(name: "mini-xception", inputSize: 48))
        let notAMap = #expect(throws: ExplanationError.self) { try GradCAM(model: model, layerIndex: 11) }
        #expect(notAMap?.description.contains("layer 11 outputs [7], not a feature map") == true)
        #expect(notAMap?.description.contains("8 (Residual, 6x6x64)") == true)
        let missing = #expect(throws: ExplanationError.self) { try GradCAM(model: model, layerIndex: -1) }
        #expect(missing?.description.contains("does not exist (the network's layers are 0...11, not all of them feature maps)") == true)
        let gradCAM = try GradCAM(model: model)
        #expect(throws: ExplanationError.invalidInputShape(expected: [48, 48, 1], received: [1, 24, 24, 1])) {
            try gradCAM.explain(Tensor(shape: [1, 24, 24, 1]))
        }
        #expect(throws: ExplanationError.invalidTargetClass(7, classCount: 7)) {
            try gradCAM.explain(Tensor(shape: [1, 48, 48, 1]), targetClass: 7)
        }
        #expect(throws: ExplanationError.targetCountMismatch(targets: 1, examples: 2)) {
            try gradCAM.explain(Tensor(shape: [2, 48, 48, 1]), targetClasses: [0])
        }
        // An inference model has no backward pass: a recognizer built on one cannot explain.
        let card = ModelCard(architecture: model.architecture, preprocessing: .symmetric(inputSize: 48),
                             parameterCount: model.parameterCount)
        let recognizer = EmotionRecognizer(model: try model.inferenceModel(), card: card, detector: WholeImageDetector())
        #expect(throws: ExplanationError.foldedNetwork) { try FaceExplainer(recognizer: recognizer) }
    }

    /// Fixed boxes as a detector.
    struct BoxDetector: FaceDetecting {
        var boxes: [Rect]
        var description: DetectorDescription { DetectorDescription(kind: .none) }
        func detect(in image: RGBImage) -> [DetectedFace] { boxes.map { DetectedFace(box: $0) } }
        func detect(in image: RGBImage, near box: Rect) -> [DetectedFace] { detect(in: image) }
    }

    /// More faces than one slice (`Model.inferenceSlice`) are explained a slice at a time, each face as it is alone.
    @Test func manyFacesAreExplainedInSlices() throws {
        let model = try Model(architecture: Architecture(name: "mini-xception", inputSize: 48), seed: 5)
        let card = ModelCard(architecture: model.architecture, preprocessing: .symmetric(inputSize: 48),
                             parameterCount: model.parameterCount)
        let pixels: [UInt8] = (0..<(100 * 80)).map { (index: Int) -> UInt8 in UInt8((index * 7 + index / 100 * 13) % 251) }
        let image = GrayImage(width: 100, height: 80, pixels: pixels)
        let boxes = (0..<20).map { Rect(x: $0 % 5 * 20, y: $0 / 5 * 20, width: 20, height: 20) }
        try #require(boxes.count > Model.inferenceSlice)
        func explain(_ boxes: [Rect]) throws -> [FaceExplanation] {
            let recognizer = EmotionRecognizer(model: model, card: card, detector: BoxDetector(boxes: boxes))
            return try FaceExplainer(recognizer: recognizer).explain(image)
        }
        let all = try explain(boxes)
        try #require(all.count == boxes.count)
        for index in [0, Model.inferenceSlice - 1, Model.inferenceSlice, boxes.count - 1] {
            let alone = try #require(try explain([boxes[index]]).first)
            #expect(all[index].face.box == boxes[index] && all[index].emotion == alone.emotion)
            let difference = zip(all[index].gradCAM, alone.gradCAM).map { $0.isNaN || $1.isNaN ? .infinity : abs($0 - $1) }
                .max() ?? .infinity
            #expect(difference < 1e-4, "face \(index): Grad-CAM differs by \(difference)")
        }
    }

    /// A box crop widened by the card's face margin past the photo's edge is clamped before it is resized, and the
    /// explanation's region (where the heat map is drawn) is that clamped rectangle, not the unclamped one (which
    /// drew the map zoomed and shifted).
    @Test func explanationRegionIsTheCropTheModelSaw() throws {
        let model = try Model(architecture: Architecture(name: "mini-xception", inputSize: 48), seed: 3)
        var preprocessing = Preprocessing.symmetric(inputSize: 48)
        preprocessing.faceMargin = 0.25
        let card = ModelCard(architecture: model.architecture, preprocessing: preprocessing,
                             parameterCount: model.parameterCount)
        let recognizer = EmotionRecognizer(model: model, card: card, detector: WholeImageDetector())
        let image = GrayImage(width: 80, height: 60, pixels: (0..<(80 * 60)).map { UInt8($0 % 251) })
        let explanations = try FaceExplainer(recognizer: recognizer).explain(image)
        try #require(explanations.count == 1)
        #expect(recognizer.region(for: DetectedFace(box: explanations[0].face.box))
                == ImageRegion(rect: Rect(x: -20, y: -15, width: 120, height: 90)))
        #expect(explanations[0].region == ImageRegion(rect: Rect(x: 0, y: 0, width: 80, height: 60)))
    }
}
