import Emovere
import EmovereNN
import Foundation
import Testing

/// Recipes as data: the built-in recipe reproduces the bundled model's training.
struct TrainingRecipeTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: [("standard", "models/standard.safetensors"), ("robust", "models/robust.safetensors"),
                      ("robust-heavy", "models/default.safetensors"),
                      ("tiny", "models/tiny.safetensors"),
                      ("mini-xception", "models/mini-xception-48.safetensors")])
    func builtInRecipeIsTheBundledModelsRecipe(name: String, file: String) throws {
        let fromCard = try TrainingRecipe.load(Self.packageRoot.appendingPathComponent(file).path)
        #expect(fromCard == TrainingRecipe.builtIn(name))
        #expect(TrainingRecipe.builtInNames.contains(name))
    }

    @Test func recipeJSONRoundTrips() throws {
        let recipe = try #require(TrainingRecipe.builtIn(TrainingRecipe.defaultName))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try JSONEncoder().encode(recipe).write(to: URL(fileURLWithPath: path))
        #expect(try TrainingRecipe.load(path) == recipe)
    }

    @Test func unknownRecipeNamesTheChoices() {
        #expect {
            try TrainingRecipe.load("no-such-recipe")
        } throws: { error in
            "\(error)".contains("no-such-recipe") && "\(error)".contains(TrainingRecipe.defaultName)
        }
    }
}
