import ArgumentParser
import Emovere
import Foundation

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a model file's card (architecture, preprocessing, metrics).")

    @Argument(help: "Model file (.safetensors).")
    var model: String

    func run() throws {
        let (network, card) = try ModelFile.load(model)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(card), as: UTF8.self))
        print("loaded: \(network.architecture), \(network.parameterCount) parameters, \(network.multiplyAddsPerFace) multiply-adds per face")
    }
}
