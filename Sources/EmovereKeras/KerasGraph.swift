import EmovereFiles
import EmovereNN
import Foundation

/// The layers of a Keras 2 functional model as its `model_config` JSON describes them, with their connections.
struct KerasGraph {
    /// One layer of the model: its class, its configuration and the layers whose outputs it takes.
    struct Layer {
        let name: String
        let className: String
        let config: JSONValue
        /// Names of the layers whose outputs this layer is called on (empty for the input layer).
        let inputs: [String]
    }

    /// The model's name in the config (e.g. `"model_1"`).
    let modelName: String
    /// The layers in the order the config lists them.
    let layers: [Layer]
    /// The model's only input layer.
    let inputName: String
    /// The model's only output layer.
    let outputName: String

    /// Parses `json` (the `model_config` attribute of the file at `path`).
    init(json: String, path: String) throws(KerasImportError) {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        } catch {
            throw .invalidModelConfig(path: path, reason: "not valid JSON (\(error))")
        }
        let className = root["class_name"]?.string ?? "none"
        guard ["Model", "Functional"].contains(className) else {
            throw .invalidModelConfig(
                path: path,
                reason: "expected a functional model (class 'Model' or 'Functional'), found class '\(className)';"
                    + " mini-Xception has residual connections")
        }
        guard let config = root["config"], let entries = config["layers"]?.array else {
            throw .invalidModelConfig(path: path, reason: "expected config.layers, a list of layers")
        }
        modelName = config["name"]?.string ?? "unnamed"
        layers = try entries.map { entry throws(KerasImportError) in try Self.layer(entry, path: path) }
        var names = Set<String>()
        for layer in layers where !names.insert(layer.name).inserted {
            throw .invalidModelConfig(path: path, reason: "two layers are named '\(layer.name)'")
        }
        inputName = try Self.onlyEndpoint(config["input_layers"], key: "input_layers", known: names, path: path)
        outputName = try Self.onlyEndpoint(config["output_layers"], key: "output_layers", known: names, path: path)
    }

    /// The layer called `name`.
    func layer(named name: String) -> Layer? {
        layers.first { $0.name == name }
    }

    /// The layers that take `name`'s output, in config order.
    func consumers(of name: String) -> [Layer] {
        layers.filter { $0.inputs.contains(name) }
    }

    private static func layer(_ entry: JSONValue, path: String) throws(KerasImportError) -> Layer {
        guard let className = entry["class_name"]?.string,
              let name = entry["name"]?.string ?? entry["config"]?["name"]?.string
        else {
            throw .invalidModelConfig(path: path, reason: "a layer without class_name or name: \(entry)")
        }
        let nodes = entry["inbound_nodes"]?.array ?? []
        guard nodes.count <= 1 else {
            throw .incompatibleLayer(path: path, layer: name, className: className, expected: "a layer used once",
                                     received: "\(nodes.count) calls (a shared layer)")
        }
        var inputs: [String] = []
        if let node = nodes.first {
            // Keras 2 writes a call as a list of [layer name, node index, tensor index, keyword arguments].
            guard let arguments = node.array else {
                throw .invalidModelConfig(
                    path: path, reason: "inbound_nodes of layer '\(name)' are not in Keras 2's list form (files written by Keras 3 are not supported)")
            }
            for argument in arguments {
                guard let source = argument.array?.first?.string else {
                    throw .invalidModelConfig(path: path, reason: "an inbound node of layer '\(name)' does not name a layer: \(argument)")
                }
                inputs.append(source)
            }
        }
        return Layer(name: name, className: className, config: entry["config"] ?? .object([:]), inputs: inputs)
    }

    /// The single layer named by `input_layers` or `output_layers` (`[[name, 0, 0]]`).
    private static func onlyEndpoint(_ value: JSONValue?, key: String, known: Set<String>, path: String) throws(KerasImportError) -> String {
        guard let endpoints = value?.array, endpoints.count == 1, let name = endpoints[0].array?.first?.string,
              known.contains(name)
        else {
            throw .invalidModelConfig(path: path, reason: "expected \(key) to name exactly one layer of the model, found \(value ?? .null)")
        }
        return name
    }
}
