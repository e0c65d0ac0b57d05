import ArgumentParser
import Emovere
import EmovereCore
import EmovereData
import Foundation

/// Shared steps of the commands.
enum CommandSupport {
    /// Loads one split, printing the loader's summary of skipped rows or files and its notes.
    static func load(path: String, split: Split, strict: Bool, imageSize: Int) throws -> FaceDataset {
        try loadWithReport(path: path, split: split, strict: strict, imageSize: imageSize).dataset
    }

    /// `load(path:split:strict:imageSize:)` with the loader's report.
    static func loadWithReport(path: String, split: Split, strict: Bool, imageSize: Int) throws
        -> (dataset: FaceDataset, report: LoadReport) {
        let (dataset, report) = try FER2013.load(path: path, split: split, strict: strict, imageSize: imageSize)
        StandardError.write(report.description + "\n")
        return (dataset, report)
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
        let (training, report) = try loadWithReport(path: path, split: .training, strict: strict, imageSize: size)
        if let (kept, heldOut) = recipe.holdingOut(from: training) {
            let copies = training.count - kept.count - heldOut.count
            if copies > 0 {
                StandardError.write("note: \(copies.counting("image")) chosen for validation left out: each is a copy of an image kept for training\n")
            }
            return (kept, heldOut)
        }
        guard !report.readsEverySplit else {
            throw CommandFailure("\(path) has no PublicTest split of its own (\(report.source) is read whole for every split): validating on the training images would choose the model on them; give --validation-fraction (e.g. 0.1), or data with train/ and test/ folders or a Usage column")
        }
        do {
            return (training, try load(path: path, split: .publicTest, strict: strict, imageSize: size))
        } catch let error as DataError {
            switch error {
            case .splitFolderMissing(_, .publicTest, _, _), .noImages(_, .publicTest, _):
                throw CommandFailure("\(error); to validate on part of Training instead, give --validation-fraction (e.g. 0.1)")
            default:
                throw error
            }
        }
    }
}
