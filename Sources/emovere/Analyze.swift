import ArgumentParser
import Dispatch
import Emovere
import EmovereCore
import EmovereData
import EmovereNN
import EmovereReport
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
    var paths: [String] = []

    @Flag(help: "Print JSON (one object per image) instead of a table.")
    var json = false

    @OptionGroup var detection: DetectorOptions

    @Option(help: "Largest photo accepted, in pixels (width x height), checked before decoding.")
    var maxPixels = ImageLimits.standard.maximumPixels

    @Option(help: "Decode a JPEG larger than this many pixels at a reduced scale (n/8, faster, less memory; boxes still in the photo's own pixels; the annotated copy at the reduced size). Default: full size.")
    var maxDecodedPixels: Int?

    /// The limits every photo is decoded under.
    var limits: ImageLimits { ImageLimits(maximumPixels: maxPixels, maximumDecodedPixels: maxDecodedPixels) }

    @Option(name: .customLong("annotate"), help: ArgumentHelp(
        "Write annotated copies: the output file for one photo, an output folder for several.", valueName: "OUT"))
    var annotate: String?

    @Option(help: ArgumentHelp(
        "Append one JSON line per photo to this file as each finishes (JSON Lines; memory stays flat however many photos).",
        valueName: "results.jsonl"))
    var output: String?

    @Flag(help: "With --output: skip the photos whose line the output file already holds (continue a stopped run).")
    var resume = false

    @Option(help: ArgumentHelp("Also read photo paths from this file, one per line ('-': standard input).", valueName: "FILE"))
    var filesFrom: String?

    @Option(help: ArgumentHelp(
        "Analyse only share K of N (1 <= K <= N), chosen by a hash of each path: N processes or machines split a collection without talking to each other.",
        valueName: "K/N"))
    var shard: Shard?

    func validate() throws {
        if paths.isEmpty && filesFrom == nil { throw ValidationError("expected photos or folders, or --files-from") }
        if maxPixels <= 0 { throw ValidationError("--max-pixels must be positive, received \(maxPixels)") }
        if let maxDecodedPixels, maxDecodedPixels <= 0 {
            throw ValidationError("--max-decoded-pixels must be positive, received \(maxDecodedPixels)")
        }
        if resume && output == nil { throw ValidationError("--resume needs --output") }
        if output != nil && json { throw ValidationError("--output writes JSON lines; leave out --json") }
        if output == "-" && (filesFrom != "-" || !paths.isEmpty || resume || annotate != nil || shard != nil) {
            throw ValidationError("--output - (the worker mode) reads paths from --files-from - alone, without --resume, --annotate or --shard")
        }
        if let output, paths.contains(where: { AnnotatedPhoto.canonical($0) == AnnotatedPhoto.canonical(output) }) {
            throw ValidationError("--output \(output) is one of the inputs; choose another file")
        }
    }

    func run() throws {
        if output == "-" { return try runWorker() }
        var expanded = try PhotoFiles.expand(paths + (filesFrom.map(PhotoFiles.listed(in:)) ?? []))
        if let shard { expanded = expanded.filter(shard.contains) }
        let target = try annotate.map { try AnnotationTarget(output: $0, inputs: paths) }
        if case let .folder(folder)? = target { expanded = PhotoFiles.excluding(expanded, under: folder) }
        let log = try output.map { try ResultLog(path: $0, resume: resume) }
        if let log { expanded = expanded.filter { !log.finished.contains($0) } }
        let files = expanded
        let outputs = try target.map { try $0.outputPaths(for: files) }
        let workers = max(1, min(files.count, 2))
        let recognizers = try detection.makeRecognizers(count: workers)
        let model = try detection.model ?? BundledModel.locate()
        let progress = Locked(files.count > 1 ? ProgressBar(total: files.count, label: "analyze", unit: "photo") : nil)
        // Without --output the results are printed at the end, in input order; with it each line is appended as
        // soon as its photo is done and nothing is kept.
        let results = Locked([PhotoResult?](repeating: nil, count: log == nil ? files.count : 0))
        let failed = Locked(false)
        let done = Locked(0)
        let shared = UnsafeSendable(recognizers)
        let writeError = Locked<Error?>(nil)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: files.count, by: workers) {
                if writeError.withValue({ $0 != nil }) { return }
                var result = PhotoResult.analyze(path: files[index], with: shared.value[worker],
                                                 annotation: outputs?[index], limits: limits)
                result.model = model
                if result.error != nil { failed.withValue { $0 = true } }
                if let log {
                    do { try log.append(result) } catch { writeError.withValue { $0 = $0 ?? error } }
                } else {
                    results.withValue { $0[index] = result }
                }
                let count = done.withValue { value -> Int in value += 1; return value }
                progress.withValue { $0?.update(completed: count) }
            }
        }
        progress.withValue { $0?.finish() }
        if let error = writeError.withValue({ $0 }) { throw error }
        if log == nil {
            let all = results.withValue { $0.compactMap { $0 } }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(all), as: UTF8.self))
            } else {
                for result in all { print(result.table) }
            }
        } else if let output {
            FileHandle.standardError.write(Data("\(files.count) photos analysed, appended to \(output)\n".utf8))
        }
        if failed.withValue({ $0 }) { throw ExitCode.failure }
    }
}

extension Analyze {
    /// The worker mode (`--files-from - --output -`): the model is loaded once, then each path read from standard input
    /// is analysed and answered at once with its JSON line on standard output, until standard input ends. Drivers such
    /// as `scripts/ray_analyze.py` keep one such process per worker.
    func runWorker() throws {
        let recognizer = try detection.makeRecognizers(count: 1)[0]
        let model = try detection.model ?? BundledModel.locate()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        while let line = readLine() {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            var result = PhotoResult.analyze(path: line, with: recognizer, limits: limits)
            result.model = model
            FileHandle.standardOutput.write(Data(try encoder.encode(result) + [10]))
        }
    }
}

/// Share K of N of a collection (`--shard K/N`): the paths whose FNV-1a hash is `K - 1` modulo N.
struct Shard: ExpressibleByArgument, Equatable {
    var index: Int
    var count: Int

    init?(argument: String) {
        let parts = argument.split(separator: "/")
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
              (1...count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// Whether `path` (as given) belongs to this share: the same on every machine and every run.
    func contains(_ path: String) -> Bool {
        Int(FNV1a.hash(path) % UInt64(count)) == index - 1
    }
}

/// An append-only JSON Lines file of photo results: each line is written whole with one `write`, so a run that
/// stops leaves at most one partial last line, which `resume` cuts off before appending.
final class ResultLog: @unchecked Sendable {
    /// The paths whose line the file already held when it was opened.
    let finished: Set<String>
    private let handle: FileHandle
    private let path: String
    private let lock = NSLock()

    init(path: String, resume: Bool) throws {
        self.path = path
        var finished: Set<String> = []
        if FileManager.default.fileExists(atPath: path) {
            guard resume else {
                throw ValidationError("\(path) already exists; pass --resume to continue it or choose another --output")
            }
            var bytes = try ImageFile.bytes(atPath: path)
            if let end = bytes.lastIndex(of: 10), end + 1 < bytes.count {
                bytes.removeSubrange((end + 1)...)
                guard truncate(path, off_t(bytes.count)) == 0 else {
                    throw ValidationError("\(path): cannot cut off the unfinished last line: \(String(cString: strerror(errno)))")
                }
            } else if !bytes.isEmpty && bytes.last != 10 {
                bytes = []
                guard truncate(path, 0) == 0 else {
                    throw ValidationError("\(path): cannot cut off the unfinished line: \(String(cString: strerror(errno)))")
                }
            }
            for (number, line) in bytes.split(separator: 10).enumerated() {
                struct Finished: Decodable { var path: String }
                guard let entry = try? JSONDecoder().decode(Finished.self, from: Data(line)) else {
                    throw ValidationError("\(path):\(number + 1): expected a JSON object with a \"path\" (a line of emovere analyze or video --output)")
                }
                finished.insert(entry.path)
            }
        }
        self.finished = finished
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard descriptor >= 0 else {
            throw ValidationError("cannot open \(path) for appending: \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Appends `result` (a photo's or a video's record, with its `path`) as one line.
    func append(_ result: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = Array(try encoder.encode(result)) + [10]
        lock.lock()
        defer { lock.unlock() }
        do {
            try handle.write(contentsOf: line)
        } catch {
            throw ValidationError("cannot append to \(path): \(error)")
        }
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
    /// The photo file's size in bytes and the SHA-256 of its content, when it could be read.
    var bytes: Int?
    var sha256: String?
    /// The model file that classified the faces.
    var model: String?

    /// Detects and classifies the faces of the photo at `path` (`EmotionRecognizer.analyzePhoto`, as the server
    /// does); with `annotation`, also writes a copy with the faces drawn on it to that path.
    static func analyze(path: String, with recognizer: EmotionRecognizer, annotation: String? = nil,
                        limits: ImageLimits = .standard) -> PhotoResult {
        let detector = recognizer.detector.description
        let photo: PhotoAnalysis
        let content: [UInt8]
        do {
            content = try ImageFile.bytes(atPath: path)
        } catch {
            report(error, for: path)
            return PhotoResult(path: path, detector: detector, faces: [], error: "\(error)")
        }
        let size = content.count, hash = SHA256.hexDigest(of: content)
        do {
            photo = try recognizer.analyzePhoto(content, source: path, limits: limits)
        } catch {
            report(error, for: path)
            return PhotoResult(path: path, detector: detector, faces: [], error: "\(error)", bytes: size, sha256: hash)
        }
        var result = PhotoResult(path: path, width: photo.width, height: photo.height, detector: detector,
                                 faces: photo.faces.map { FaceRecord($0) }, bytes: size, sha256: hash)
        if let annotation {
            do {
                try AnnotatedPhoto.write(AnnotationRenderer().annotated(photo.image, faces: photo.facesInImage), to: annotation)
                result.annotation = annotation
            } catch {
                report(error, for: annotation)
                result.error = "cannot write the annotated photo: \(error)"
            }
        }
        return result
    }

    private static func report(_ error: Error, for path: String) {
        FileHandle.standardError.write(Data("error: \(naming(path, in: "\(error)"))\n".utf8))
    }

    /// `message` prefixed with `path`, unless it names the file already (read and decode errors do).
    static func naming(_ path: String, in message: String) -> String {
        message.contains(path) ? message : "\(path): \(message)"
    }

    var table: String {
        if let error, width == nil { return "error: \(Self.naming(path, in: error))" }
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
                    } else if child.contains("\u{FFFD}") {
                        // The listing decoded a name that is not UTF-8 with replacement characters: no such path.
                        FileHandle.standardError.write(Data("warning: skipping \(child): its name is not valid UTF-8, which emovere cannot open; rename the file\n".utf8))
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

    /// The paths listed in `file` (`-`: standard input), one per line; blank lines are skipped.
    static func listed(in file: String) throws -> [String] {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard isRegularFile(file) else { throw ValidationError("--files-from \(file): expected a regular file of paths") }
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
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

extension Optional {
    func orThrow(_ error: @autoclosure () -> some Error) throws -> Wrapped {
        guard let value = self else { throw error() }
        return value
    }
}
