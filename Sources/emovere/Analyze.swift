import ArgumentParser
import Dispatch
import Emovere
import EmovereVision
import Foundation

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find faces in photos and recognise their emotions.",
        discussion: "Folders are searched for .jpg, .jpeg and .png files. Exit status 1 if any file could not be read.")

    @Argument(help: "Photos or folders of photos.")
    var paths: [String]

    @Flag(help: "Print JSON (one object per image) instead of a table.")
    var json = false

    @Option(help: "Model file (default: the bundled model).")
    var model: String?

    @Option(help: "Haar cascade XML (default: haarcascade_frontalface_default.xml from opencv-data).")
    var cascade: String?

    @Option(help: "Smallest face side in pixels.")
    var minFace = 0

    @Option(help: "Detector scale factor.")
    var scaleFactor = 1.3

    @Option(help: "Detector minimum neighbours.")
    var minNeighbors = 5

    func run() throws {
        let modelPath = try model ?? BundledModel.locate()
        let cascadePath = try cascade ?? HaarCascade.locate().orThrow(ValidationError(
            "no Haar cascade found in \(HaarCascade.standardSearchPaths.joined(separator: ", ")); install opencv-data (apt-get install opencv-data) or pass --cascade"))
        let parameters = try FaceDetector.DetectionParameters(
            scaleFactor: scaleFactor, minimumNeighbors: minNeighbors,
            minimumSize: minFace > 0 ? FaceDetector.WindowSize(width: minFace, height: minFace) : nil)
        let files = try PhotoFiles.expand(paths)
        let detector = try FaceDetector(cascadePath: cascadePath)
        let workers = max(1, min(files.count, 2))
        let recognizers = try (0..<workers).map { _ in
            let (network, card) = try ModelFile.load(modelPath, foldedForInference: true)
            return EmotionRecognizer(model: network, card: card, detector: detector, detection: parameters)
        }
        let progress = Locked(files.count > 1 ? ProgressBar(total: files.count, label: "analyze", unit: "photo") : nil)
        let results = Locked([PhotoResult?](repeating: nil, count: files.count))
        let done = Locked(0)
        let shared = UncheckedBox(recognizers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: files.count, by: workers) {
                let result = PhotoResult.analyze(path: files[index], with: shared.value[worker])
                results.withValue { $0[index] = result }
                let count = done.withValue { value -> Int in value += 1; return value }
                progress.withValue { $0?.update(completed: count) }
            }
        }
        progress.withValue { $0?.finish() }
        let all = results.withValue { $0.compactMap { $0 } }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(all), as: UTF8.self))
        } else {
            for result in all { print(result.table) }
        }
        if all.contains(where: { $0.error != nil }) { throw ExitCode.failure }
    }
}

/// The outcome for one photo: its faces, or the error that stopped it.
struct PhotoResult: Codable {
    struct Face: Codable {
        var box: Rect
        var emotion: String
        var confidence: Float
        var probabilities: [String: Float]
    }

    var path: String
    var width: Int?
    var height: Int?
    var faces: [Face]
    var error: String?

    static func analyze(path: String, with recognizer: EmotionRecognizer) -> PhotoResult {
        do {
            let image = try GrayImage(contentsOf: path)
            let faces = recognizer.analyze(image).map { face in
                Face(box: face.box, emotion: face.emotion.name, confidence: face.confidence,
                     probabilities: Dictionary(uniqueKeysWithValues: zip(recognizer.card.labels, face.probabilities)))
            }
            return PhotoResult(path: path, width: image.width, height: image.height, faces: faces)
        } catch {
            FileHandle.standardError.write(Data("error: \(path): \(error)\n".utf8))
            return PhotoResult(path: path, faces: [], error: "\(error)")
        }
    }

    var table: String {
        if let error { return "\(path): error: \(error)" }
        var lines = ["\(path) (\(width ?? 0)x\(height ?? 0)): \(faces.count) face\(faces.count == 1 ? "" : "s")"]
        for (index, face) in faces.enumerated() {
            let top = face.probabilities.sorted { $0.value > $1.value }.prefix(3)
                .map { String(format: "%@ %.2f", $0.key, $0.value) }.joined(separator: ", ")
            lines.append("  #\(index + 1) box \(face.box.x),\(face.box.y) \(face.box.width)x\(face.box.height): \(face.emotion) (\(top))")
        }
        return lines.joined(separator: "\n")
    }
}

/// Finds the bundled default model: `$EMOVERE_MODEL`, `./models/`, or `models/` beside the package the
/// executable was built in.
enum BundledModel {
    static let fileName = "default.safetensors"

    static func locate() throws -> String {
        if let path = ProcessInfo.processInfo.environment["EMOVERE_MODEL"] { return path }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidates = [
            FileManager.default.currentDirectoryPath + "/models/" + fileName,
            executable.deletingLastPathComponent().appendingPathComponent("../../../models/" + fileName).standardized.path,
            executable.deletingLastPathComponent().appendingPathComponent("../share/emovere/" + fileName).standardized.path,
        ]
        guard let found = candidates.first(where: FileManager.default.fileExists(atPath:)) else {
            throw ValidationError("no bundled model found (looked in \(candidates.joined(separator: ", "))); pass --model or set EMOVERE_MODEL")
        }
        return found
    }
}

/// Expands folders into the photo files they hold (sorted), keeping files as given.
enum PhotoFiles {
    static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    static func expand(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ValidationError("no such file or folder: \(path)")
            }
            if isDirectory.boolValue {
                let children = try FileManager.default.subpathsOfDirectory(atPath: path)
                    .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
                files += children.map { (path as NSString).appendingPathComponent($0) }
            } else {
                files.append(path)
            }
        }
        return files
    }
}

/// A value guarded by a lock, shared between worker threads.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withValue<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// Values each used by one worker only (one recognizer per worker).
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

extension Optional {
    func orThrow(_ error: @autoclosure () -> some Error) throws -> Wrapped {
        guard let value = self else { throw error() }
        return value
    }
}
