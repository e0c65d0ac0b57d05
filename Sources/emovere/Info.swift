import ArgumentParser
import Emovere
import EmovereFiles
import Foundation

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model file's card (architecture, preprocessing, metrics), or what this machine runs.")

    @Argument(help: "Model file (.safetensors).")
    var model: String?

    @Flag(help: "Print the kernels chosen for this CPU, the BLAS library and the worker count instead.")
    var system = false

    func validate() throws {
        if system != (model == nil) {
            throw ValidationError(system ? "--system takes no model file" : "Missing a model file (or --system)")
        }
    }

    func run() throws {
        if system {
            print(SystemDescription.current)
            return
        }
        guard let model else { return }
        let (network, card) = try ModelFile.load(model)
        print(String(decoding: try JSONEncoder.sortedKeys(pretty: true).encode(card), as: UTF8.self))
        print("loaded: \(network.architecture), \(network.parameterCount) parameters, \(network.multiplyAddsPerFace) multiply-adds per face")
    }
}
