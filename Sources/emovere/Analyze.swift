import ArgumentParser
import Dispatch
import Emovere
import EmovereData
import EmovereVision
import Foundation

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find faces in photos and recognise their emotions.",
        discussion: """
            Folders are searched for .jpg, .jpeg and .png files. Exit status 1 if any file could not be read \
            (or its annotated copy could not be written).

            --annotate draws each face's box, top emotion and probability bars on the photo. With one photo, \
            OUT is the output file (PNG or JPEG, by its extension); with several photos or a folder, OUT is a \
            folder that receives <name>.annotated.png (or .jpg, after the input's format) for every photo.
            """)

    @Argument(help: "Photos or folders of photos.")
    var paths: [String]

    @Flag(help: "Print JSON (one object per image) instead of a table.")
    var json = false

    @OptionGroup var detection: DetectorOptions

    @Option(help: "Largest photo accepted, in pixels (width x height), checked before decoding.")
    var maxPixels = ImageLimits.standard.maximumPixels

    @Option(name: .customLong("annotate"), help: ArgumentHelp(
        "Write annotated copies: the output file for one photo, an output folder for several.", valueName: "OUT"))
    var annotate: String?

    func run() throws {
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive, received \(maxPixels)") }
        let limits = ImageLimits(maximumPixels: maxPixels)
        var expanded = try PhotoFiles.expand(paths)
        let target = try annotate.map { try AnnotationTarget(output: $0, inputs: paths) }
        if case let .folder(folder)? = target { expanded = PhotoFiles.excluding(expanded, under: folder) }
        let files = expanded
        let outputs = try target.map { try $0.outputPaths(for: files) }
        let workers = max(1, min(files.count, 2))
        let recognizers = try detection.makeRecognizers(count: workers)
        let progress = Locked(files.count > 1 ? ProgressBar(total: files.count, label: "analyze", unit: "photo") : nil)
        let results = Locked([PhotoResult?](repeating: nil, count: files.count))
        let done = Locked(0)
        let shared = UncheckedBox(recognizers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: files.count, by: workers) {
                let result = PhotoResult.analyze(path: files[index], with: shared.value[worker],
                                                 annotation: outputs?[index], limits: limits)
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
    var path: String
    var width: Int?
    var height: Int?
    /// The detector that found the faces.
    var detector: DetectorDescription
    var faces: [FaceRecord]
    var error: String?
    /// The annotated copy written for this photo.
    var annotation: String?

    /// Detects and classifies the faces of the photo at `path` (`EmotionRecognizer.analyzePhoto`, as the server
    /// does); with `annotation`, also writes a copy with the faces drawn on it to that path.
    static func analyze(path: String, with recognizer: EmotionRecognizer, annotation: String? = nil,
                        limits: ImageLimits = .standard) -> PhotoResult {
        let detector = recognizer.detector.description
        let image: RGBImage
        let found: [FaceEmotion]
        do {
            (image, found) = try recognizer.analyzePhoto(try ImageFile.bytes(atPath: path), source: path, limits: limits)
        } catch {
            report(error, for: path)
            return PhotoResult(path: path, detector: detector, faces: [], error: "\(error)")
        }
        var result = PhotoResult(path: path, width: image.width, height: image.height, detector: detector,
                                 faces: found.map { FaceRecord($0) })
        if let annotation {
            do {
                try AnnotatedPhoto.write(AnnotationRenderer().annotated(image, faces: found), to: annotation)
                result.annotation = annotation
            } catch {
                report(error, for: annotation)
                result.error = "cannot write the annotated photo: \(error)"
            }
        }
        return result
    }

    private static func report(_ error: Error, for path: String) {
        FileHandle.standardError.write(Data("error: \(path): \(error)\n".utf8))
    }

    var table: String {
        if let error, width == nil { return "\(path): error: \(error)" }
        var lines = ["\(path) (\(width ?? 0)x\(height ?? 0)): \(faces.count) face\(faces.count == 1 ? "" : "s")"]
        for (index, face) in faces.enumerated() { lines.append(face.line(number: index + 1)) }
        if let annotation { lines.append("  annotated: \(annotation)") }
        if let error { lines.append("  error: \(error)") }
        return lines.joined(separator: "\n")
    }
}

/// Finds bundled files (the default model, the YuNet detector): `$EMOVERE_MODEL` for the model, `./models/`, or
/// `models/` beside the package the executable was built in, or `../share/emovere/` beside an installed executable.
enum BundledModel {
    static let fileName = "default.safetensors"

    static func locate(fileName: String = fileName, environment: String? = "EMOVERE_MODEL", folder: String = "models")
        throws -> String {
        if let environment, let path = ProcessInfo.processInfo.environment[environment] { return path }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidates = [
            FileManager.default.currentDirectoryPath + "/\(folder)/" + fileName,
            executable.deletingLastPathComponent().appendingPathComponent("../../../\(folder)/" + fileName).standardized.path,
            executable.deletingLastPathComponent().appendingPathComponent("../share/emovere/" + fileName).standardized.path,
        ]
        guard let found = candidates.first(where: FileManager.default.fileExists(atPath:)) else {
            throw ValidationError("no bundled \(fileName) found (looked in \(candidates.joined(separator: ", ")))"
                                  + (environment.map { "; pass --model or set \($0)" } ?? ""))
        }
        return found
    }
}

/// Where `--annotate` writes: one file for a single photo, or a folder for several photos or folders.
enum AnnotationTarget: Equatable {
    case file(String)
    case folder(String)

    /// The target for `--annotate output` given the command's inputs; creates the output folder (or the
    /// output file's folder) when missing.
    init(output: String, inputs: [String]) throws {
        guard !output.isEmpty else { throw ValidationError("--annotate needs a file or folder path") }
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        let singlePhoto = inputs.count == 1
            && manager.fileExists(atPath: inputs[0], isDirectory: &isDirectory) && !isDirectory.boolValue
        if singlePhoto {
            guard AnnotatedPhoto.format(ofOutput: output) != nil else {
                throw ValidationError("--annotate \(output): expected a .png, .jpg or .jpeg file name for one photo")
            }
            if manager.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue {
                throw ValidationError("--annotate \(output) is a folder; for one photo, name the output file")
            }
            guard AnnotatedPhoto.canonical(output) != AnnotatedPhoto.canonical(inputs[0]) else {
                throw ValidationError("--annotate \(output) would overwrite the photo itself; choose another file")
            }
            let folder = (output as NSString).deletingLastPathComponent
            if !folder.isEmpty { try manager.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            self = .file(output)
        } else {
            if manager.fileExists(atPath: output, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw ValidationError("--annotate \(output) is a file; with several photos or a folder, "
                                      + "--annotate names the output folder")
            }
            try manager.createDirectory(atPath: output, withIntermediateDirectories: true)
            self = .folder(output)
        }
    }

    /// The output path for each of `files`, in order. In a folder each photo becomes `<name>.annotated.png` (or
    /// `.jpg` for JPEG inputs); photos with the same name get `-2`, `-3`, ... before `.annotated`.
    func outputPaths(for files: [String]) throws -> [String] {
        switch self {
        case let .file(path):
            return files.map { _ in path }
        case let .folder(folder):
            var used: Set<String> = []
            return files.map { file in
                let name = (file as NSString).lastPathComponent
                let stem = (name as NSString).deletingPathExtension
                let suffix = AnnotatedPhoto.format(ofOutput: name) == .jpeg ? "jpg" : "png"
                var candidate = "\(stem).annotated.\(suffix)"
                var counter = 2
                while !used.insert(candidate).inserted {
                    candidate = "\(stem)-\(counter).annotated.\(suffix)"
                    counter += 1
                }
                return (folder as NSString).appendingPathComponent(candidate)
            }
        }
    }
}

/// Encoding and writing annotated photos.
enum AnnotatedPhoto {
    /// JPEG quality of annotated JPEG files.
    static let jpegQuality = 92

    /// The format named by `path`'s extension (`.png`, `.jpg`, `.jpeg`, any case), or nil.
    static func format(ofOutput path: String) -> ImageFormat? {
        switch (path as NSString).pathExtension.lowercased() {
        case "png": .png
        case "jpg", "jpeg": .jpeg
        default: nil
        }
    }

    /// Encodes `image` in the format of `path`'s extension (PNG when it has none of ours) and writes it
    /// atomically: to a temporary file beside `path`, then renamed over it.
    static func write(_ image: RGBImage, to path: String) throws {
        let bytes = format(ofOutput: path) == .jpeg ? try image.jpegData(quality: jpegQuality) : try image.pngData()
        try AtomicFile.write(bytes, to: path)
    }

    /// `path` made absolute, standardized and with symbolic links resolved, for comparing paths.
    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}

/// Expands folders into the photo files they hold (sorted), keeping files as given. Only regular files are read:
/// a named pipe, device or socket would block the reader or never end.
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
                for child in children.map({ (path as NSString).appendingPathComponent($0) }) {
                    if isRegularFile(child) {
                        files.append(child)
                    } else {
                        FileHandle.standardError.write(Data("warning: skipping \(child): not a regular file\n".utf8))
                    }
                }
            } else {
                guard isRegularFile(path) else {
                    throw ValidationError("\(path) is not a regular file (a named pipe, device or socket); expected a JPEG or PNG photo")
                }
                files.append(path)
            }
        }
        return files
    }

    /// Whether `path` (after following symbolic links) is a regular file.
    static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    /// `files` without those inside `folder` (so annotated copies written there are not analysed again).
    static func excluding(_ files: [String], under folder: String) -> [String] {
        let prefix = AnnotatedPhoto.canonical(folder) + "/"
        return files.filter { !AnnotatedPhoto.canonical($0).hasPrefix(prefix) }
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
