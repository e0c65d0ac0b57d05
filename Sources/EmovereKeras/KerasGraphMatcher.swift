import EmovereNN

/// Walks an Emovere network and a Keras graph side by side from the input, pairing each Emovere layer
/// with the Keras layer that computes the same thing, so that weights can be copied by variable name.
struct KerasGraphMatcher {
    /// An Emovere layer and the Keras layer whose weights it takes.
    struct Binding {
        let layer: any Layer
        let kerasLayer: KerasGraph.Layer
    }

    private let graph: KerasGraph
    private let path: String
    private var bindings: [Binding] = []
    private var claimed: Set<String> = []

    /// The bindings of every layer of `network`, checking that the Keras graph is exactly `network`
    /// followed by a softmax output (the file at `path` is named in errors).
    static func bindings(of network: Sequential, to graph: KerasGraph, path: String) throws(KerasImportError) -> [Binding] {
        var matcher = KerasGraphMatcher(graph: graph, path: path)
        matcher.claimed.insert(graph.inputName)
        let logits = try matcher.match(network, after: graph.inputName)
        let output = try matcher.next(after: logits, expecting: .softmax)
        if output.name != graph.outputName {
            let extra = graph.consumers(of: output.name).first
            throw .incompatibleLayer(path: path, layer: extra?.name ?? output.name, className: extra?.className ?? output.className,
                                     expected: "the model's output after the softmax", received: "a further layer")
        }
        if let unused = graph.layers.first(where: { !matcher.claimed.contains($0.name) }) {
            throw .incompatibleLayer(path: path, layer: unused.name, className: unused.className,
                                     expected: "only mini-Xception's layers", received: "a layer outside that graph")
        }
        return matcher.bindings
    }

    /// Matches the layers of `sequential` one after another from the output of Keras layer `start`;
    /// returns the Keras layer that gives the last output.
    private mutating func match(_ sequential: Sequential, after start: String) throws(KerasImportError) -> String {
        var current = start
        for layer in sequential.layers {
            switch layer {
            case let block as Sequential:
                current = try match(block, after: current)
            case let block as Residual:
                current = try match(block, after: current)
            default:
                guard let expectation = KerasLayerExpectation(layer) else {
                    throw .invalidModel(path: path, reason: "the Keras importer cannot map Emovere layer \(type(of: layer))")
                }
                let kerasLayer = try next(after: current, expecting: expectation)
                bindings.append(Binding(layer: layer, kerasLayer: kerasLayer))
                current = kerasLayer.name
            }
        }
        return current
    }

    /// Matches both branches of `residual` from `start` and the `Add` that joins them.
    private mutating func match(_ residual: Residual, after start: String) throws(KerasImportError) -> String {
        let main = try match(residual.main, after: start)
        let shortcut = try residual.shortcut.map { block throws(KerasImportError) in try match(block, after: start) } ?? start
        let candidates = graph.consumers(of: main).filter { !claimed.contains($0.name) }
        guard let add = candidates.first(where: { $0.className == "Add" && $0.inputs.count == 2 && Set($0.inputs) == [main, shortcut] }) else {
            let found = candidates.first ?? graph.layer(named: main)
            throw .incompatibleLayer(
                path: path, layer: found?.name ?? main, className: found?.className ?? "unknown",
                expected: "Add() of '\(main)' and '\(shortcut)'",
                received: candidates.isEmpty ? "no layer after '\(main)'" : "inputs \(candidates[0].inputs)")
        }
        claimed.insert(add.name)
        return add.name
    }

    /// The unclaimed Keras layer that takes only `start`'s output and meets `expectation`, now claimed.
    private mutating func next(after start: String, expecting expectation: KerasLayerExpectation) throws(KerasImportError) -> KerasGraph.Layer {
        let candidates = graph.consumers(of: start).filter { !claimed.contains($0.name) }
        if let layer = candidates.first(where: { $0.inputs == [start] && expectation.mismatch($0) == nil }) {
            claimed.insert(layer.name)
            return layer
        }
        guard let closest = candidates.first(where: { candidate in expectation.forms.contains { $0.className == candidate.className } })
                ?? candidates.first
        else {
            let source = graph.layer(named: start)
            throw .incompatibleLayer(path: path, layer: start, className: source?.className ?? "unknown",
                                     expected: "to be followed by \(expectation.summary)", received: "no further layer")
        }
        let received = closest.inputs == [start] ? expectation.mismatch(closest) ?? "" : "inputs \(closest.inputs)"
        throw .incompatibleLayer(path: path, layer: closest.name, className: closest.className,
                                 expected: expectation.summary, received: received)
    }
}
