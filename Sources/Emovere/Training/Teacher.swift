import EmovereCore
import EmovereData
import EmovereFiles
import EmovereNN
import EmovereTensor
import Foundation

/// Knowledge distillation's targets (`TrainingRecipe.distillation`) with `.clean` input: the teachers' class
/// probabilities for each training image, computed once on the clean image (as loaded for the student, at its input
/// size, then resized to each teacher's input: a 48-pixel teacher of a 64-pixel student reads it resampled twice) with the
/// distillation's test-time augmentation (by default each teacher card's) and averaged over the teachers. The student
/// learns to give them for every augmented and corrupted view of the image. (`BatchTeachers` answers for each view.)
enum Teacher {
    /// One teacher of a distillation, ready to answer.
    struct Loaded {
        let path: String
        let model: InferenceModel
        let card: ModelCard
        /// The checksum of its tensors, which a cache of its answers records.
        let tensorsSHA256: String
    }

    /// The teachers of `distillation`, each checked to predict `classCount` classes, prepared in `precision`.
    static func loaded(_ distillation: Distillation, classCount: Int, precision: Precision = .float32) throws -> [Loaded] {
        try distillation.teachers.map { path in
            let file = try SafeTensorsFile(contentsOf: path)
            let (trainable, card) = try ModelFile.load(file, path: path)
            guard card.architecture.classCount == classCount else {
                throw TrainingError.teacherMismatch(path: path, expectedClasses: classCount,
                                                    found: card.architecture.classCount)
            }
            let tensors = try ModelFile.weightsDigest(of: file)
            return Loaded(path: path, model: try trainable.inferenceModel(precision: precision), card: card,
                          tensorsSHA256: tensors)
        }
    }

    /// The file in a run's directory that caches the teachers' answers for the clean training images.
    static let cacheFileName = "teacher-probabilities.safetensors"

    /// The file in a run's directory that records the teachers' checksums for later resumes.
    static let recordFileName = "teacher-checksums.txt"

    /// Writes the teachers' checksums to `record`, or compares them with those it holds.
    static func check(_ teachers: [Teacher.Loaded], against record: String, paths: [String]) throws {
        let checksums = teachers.map(\.tensorsSHA256).joined(separator: "\n") + "\n"
        guard FileManager.default.fileExists(atPath: record) else { return try AtomicFile.write(checksums, to: record) }
        guard String(decoding: try FileContents.bytes(atPath: record, maximumBytes: FileContents.largestDocumentBytes), as: UTF8.self) == checksums else {
            throw TrainingError.teacherChanged(path: paths.joined(separator: ", "), record: record)
        }
    }

    /// Per image of `training`, the teachers' mean `classCount` probabilities at the distillation temperature: read
    /// from `cache` when it holds them, else computed and written there. The cache records the teachers' tensors (by
    /// checksum), views, temperature, image count and the images themselves (a checksum of their pixels, in order); a
    /// cache that disagrees means a teacher or the training images changed since the run began, which is an error
    /// rather than targets silently paired with other images. `record` keeps the teachers' checksums apart from the
    /// cache, so a resume whose cache was deleted still checks them; a cache that cannot be read is an error.
    static func distributions(_ distillation: Distillation, for training: FaceDataset, classCount: Int, cache: String?,
                              record: String? = nil, progress: ProgressSinkFactory? = nil) throws -> [[Float]] {
        let teachers = try loaded(distillation, classCount: classCount)
        if let record { try check(teachers, against: record, paths: distillation.teachers) }
        let paths = distillation.teachers.joined(separator: ", ")
        // One teacher's settings read as they did before ensembles, so its caches stay valid.
        let settings = ["teacherTensorsSHA256": teachers.map(\.tensorsSHA256).joined(separator: ","),
                        "temperature": "\(distillation.temperature)", "images": "\(training.count)"]
        let views = teachers.map { distillation.testTimeAugmentation ?? $0.card.testTimeAugmentation ?? .none }
        let viewNames = views.map(\.rawValue).joined(separator: ",")
        let images = SHA256.hexDigest(of: training.pixels)
        if let cache, FileManager.default.fileExists(atPath: cache) {
            let stored: SafeTensorsFile
            do {
                stored = try SafeTensorsFile(contentsOf: cache)
            } catch {
                throw TrainingError.teacherCacheUnreadable(record: cache, reason: "\(error)")
            }
            guard stored.metadata["imagesSHA256"] == images else {
                throw TrainingError.teacherAnswersForOtherImages(record: cache)
            }
            guard stored.metadata.filter({ !["testTimeAugmentation", "imagesSHA256"].contains($0.key) }) == settings,
                  distillation.testTimeAugmentation == nil || stored.metadata["testTimeAugmentation"] == viewNames
            else {
                throw TrainingError.teacherChanged(path: paths, record: cache)
            }
            let probabilities: NamedArray
            do {
                probabilities = try stored.tensor(named: "probabilities")
            } catch {
                throw TrainingError.teacherCacheUnreadable(record: cache, reason: "\(error)")
            }
            guard probabilities.shape == [training.count, classCount] else {
                throw TrainingError.teacherCacheUnreadable(
                    record: cache, reason: "expected probabilities of shape [\(training.count), \(classCount)], found \(probabilities.shape)")
            }
            guard probabilities.values.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }) else {
                throw TrainingError.teacherCacheUnreadable(record: cache, reason: "a probability outside 0...1")
            }
            return rows(probabilities.values, classCount: classCount)
        }
        var mean = [Float](repeating: 0, count: training.count * classCount)
        for (teacher, teacherViews) in zip(teachers, views) {
            let probabilities = try computed(teacher.model, card: teacher.card, views: teacherViews,
                                             temperature: distillation.temperature, for: training, progress: progress)
            for index in mean.indices { mean[index] += probabilities[index] / Float(teachers.count) }
        }
        if let cache {
            try SafeTensorsFile(tensors: ["probabilities": NamedArray(shape: [training.count, classCount], values: mean)],
                                metadata: settings.merging(["testTimeAugmentation": viewNames, "imagesSHA256": images]) { $1 })
                .write(to: cache)
        }
        return rows(mean, classCount: classCount)
    }

    private static func rows(_ probabilities: [Float], classCount: Int) -> [[Float]] {
        (0..<probabilities.count / classCount).map { Array(probabilities[($0 * classCount)..<(($0 + 1) * classCount)]) }
    }

    private static func computed(_ model: InferenceModel, card: ModelCard, views: TestTimeAugmentation,
                                 temperature: Float, for training: FaceDataset,
                                 progress: ProgressSinkFactory?) throws -> [Float] {
        let size = card.preprocessing.inputSize
        let images = training.imageSize == size ? training : training.resized(to: size)
        let evaluator = Evaluator(model: model, preprocessing: card.preprocessing, testTimeAugmentation: views,
                                  temperature: temperature)
        let reporter = progress?(images.count, "teacher")
        let probabilities = try evaluator.evaluate(images) { reporter?.update(completed: $0, metrics: []) }.probabilities
        reporter?.finish(metrics: [])
        return probabilities
    }
}
