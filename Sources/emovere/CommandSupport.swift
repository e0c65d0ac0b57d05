import ArgumentParser
import Emovere
import EmovereData
import Foundation

/// Shared steps of the commands.
enum CommandSupport {
    /// Loads one split, printing the loader's summary of skipped rows or files.
    static func load(path: String, split: Split, strict: Bool, imageSize: Int) throws -> FaceDataset {
        let (dataset, report) = try FER2013.load(path: path, split: split, strict: strict, imageSize: imageSize)
        FileHandle.standardError.write(Data((report.summary + "\n").utf8))
        return dataset
    }

    /// Checks an `--input-size`: the sizes a model file may declare (`ModelCard.inputSizes`).
    static func validateInputSize(_ size: Int?) throws {
        if let size, !ModelCard.inputSizes.contains(size) {
            throw ValidationError("--input-size must be \(ModelCard.inputSizeRange), received \(size)")
        }
    }

    /// The training set and the validation set a recipe asks for.
    static func loadTrainingData(path: String, recipe: TrainingRecipe, strict: Bool) throws
        -> (training: FaceDataset, validation: FaceDataset)
    {
        let size = recipe.preprocessing.inputSize
        let training = try load(path: path, split: .training, strict: strict, imageSize: size)
        if let (kept, heldOut) = recipe.holdingOut(from: training) { return (kept, heldOut) }
        return (training, try load(path: path, split: .publicTest, strict: strict, imageSize: size))
    }
}
