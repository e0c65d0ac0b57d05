import Dispatch
import EmovereCore
import EmovereVision
import Foundation

/// Reads an image-folder dataset: `root/<split folder>/<class name>/*.png|jpg|jpeg`
/// (for FER2013: `train/<class>/Training_*.png`, `test/<class>/PublicTest_*.jpg`).
///
/// Files are sorted by path, decoded to gray in parallel (results placed by index, so the order
/// is deterministic), and resized to `imageSize` x `imageSize` when their size differs.
/// Undecodable files and unknown class folders are skipped and reported, or thrown when `strict`.
/// Other entries of a class folder (files with other extensions, subfolders) are ignored and counted in a note; hidden
/// files are ignored.
public struct ImageFolderLoader: Sendable {
    /// The side length of the dataset images (48 for FER2013).
    public var imageSize: Int
    /// Throw `DataError.malformed` at the first bad file or folder instead of skipping it.
    public var strict: Bool
    /// Limits checked on every image header.
    public var limits: ImageLimits

    /// The file extensions read, lower-case.
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Creates a loader.
    public init(imageSize: Int = 48, strict: Bool = false, limits: ImageLimits = .standard) {
        self.imageSize = imageSize
        self.strict = strict
        self.limits = limits
    }

    /// What messages add after the class names: the other spellings `Emotion(folderName:)` reads.
    static let otherSpellings = " (or " + Emotion.otherFolderNames.keys.sorted().joined(separator: ", ") + ")"

    /// The folder of `split` under `root`, matched case-insensitively against `Split.folderNames`.
    /// When `root` itself holds class folders (the split folder was given), `root` is returned.
    public func splitFolder(root: String, split: Split) throws(DataError) -> String {
        let entries = try Self.subdirectories(of: root)
        for candidate in split.folderNames {
            if let match = entries.first(where: { $0.lowercased() == candidate }) {
                return Self.join(root, match)
            }
        }
        // In a train/ val/ test/ layout val/ is PublicTest (above) and test/ the held-out test, PrivateTest; in
        // FER2013's own train/ test/ layout test/ may hold both test splits, told apart by their files' prefixes.
        if split == .privateTest, let test = entries.first(where: { $0.lowercased() == "test" }) {
            let folder = Self.join(root, test)
            let hasValidation = entries.contains { Split.validationFolderNames.contains($0.lowercased()) }
            if hasValidation { return folder }
            if try Self.holdsFiles(in: folder, named: Self.privateTestPrefix) { return folder }
        }
        if entries.contains(where: { Emotion(folderName: $0) != nil }) { return root }
        throw .splitFolderMissing(root: root, split: split, expected: split.folderNames, found: entries)
    }

    /// Loads `split` from the image-folder tree at `root`.
    public func load(root: String, split: Split) throws(DataError) -> (FaceDataset, LoadReport) {
        guard imageSize > 0 else {
            throw .invalidArgument(name: "image size", expected: "a positive number of pixels", found: "\(imageSize)")
        }
        let folder = try splitFolder(root: root, split: split)
        let keeps = try Self.testSplitFilter(folder: folder, root: root, split: split)
        var withOtherPrefix = 0  // files of the other test split in a shared test/ folder
        var issues: [LoadIssue] = []
        var files: [(path: String, label: Int, source: String)] = []
        var classFolders = 0
        var ignored: [String] = []  // entries of class folders that are not images of a known extension
        for name in try Self.subdirectories(of: folder) {
            let classFolder = Self.join(folder, name)
            guard let emotion = Emotion(folderName: name) else {
                let issue = LoadIssue(location: classFolder, reason: "unknown class folder '\(name)', expected one of "
                                      + Emotion.allCases.map(\.name).joined(separator: ", ") + Self.otherSpellings)
                if strict { throw .malformed(issue) }
                issues.append(issue)
                continue
            }
            classFolders += 1
            for file in try Self.contents(of: classFolder) where !file.hasPrefix(".") {
                let fileExtension = file.split(separator: ".").last.map { $0.lowercased() } ?? ""
                let path = Self.join(classFolder, file)
                // A subfolder is ignored, even one named like an image (`old.jpg`).
                if file.contains("."), Self.imageExtensions.contains(fileExtension), !Self.isFolder(path) {
                    guard keeps(file) else {
                        withOtherPrefix += 1
                        continue
                    }
                    files.append((path, emotion.rawValue, emotion.name + "/" + file))
                } else {
                    ignored.append(path)
                }
            }
        }
        files.sort { $0.path < $1.path }
        guard !files.isEmpty else {
            let unknown = issues.map { String($0.location.split(separator: "/").last ?? "") }
            throw .noImages(path: folder, split: split, reason: unknown.isEmpty || classFolders > 0
                ? "no .png, .jpg or .jpeg file in any class folder"
                : "no class folder with an emotion's name (found \(unknown.joined(separator: ", ")); expected "
                    + Emotion.allCases.map(\.name).joined(separator: ", ") + Self.otherSpellings + ")")
        }

        let perImage = imageSize * imageSize
        var pixels = [UInt8](repeating: 0, count: files.count * perImage)
        var failures = [String?](repeating: nil, count: files.count)
        // The size of each image that is not square (stretched to the square), else nil.
        var stretched = [(width: Int, height: Int)?](repeating: nil, count: files.count)
        let paths = files.map(\.path)
        let size = imageSize, limits = limits
        pixels.withUnsafeMutableBufferPointer { pixelBuffer in
            failures.withUnsafeMutableBufferPointer { failureBuffer in
                stretched.withUnsafeMutableBufferPointer { stretchedBuffer in
                    let output = UnsafeSendable(pixelBuffer.baseAddress!) // count > 0
                    let failed = UnsafeSendable(failureBuffer.baseAddress!)
                    let notSquare = UnsafeSendable(stretchedBuffer.baseAddress!)
                    let chunkSize = 64
                    let chunks = (paths.count + chunkSize - 1) / chunkSize
                    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                        for index in chunk * chunkSize..<min((chunk + 1) * chunkSize, paths.count) {
                            do throws(VisionError) {
                                var image = try GrayImage(contentsOf: paths[index], limits: limits)
                                if image.width != image.height { notSquare.value[index] = (image.width, image.height) }
                                if image.width != size || image.height != size {
                                    image = image.resized(width: size, height: size)
                                }
                                image.pixels.withUnsafeBufferPointer { source in
                                    (output.value + index * perImage).update(from: source.baseAddress!, count: perImage)
                                }
                            } catch {
                                failed.value[index] = error.description
                            }
                        }
                    }
                }
            }
        }

        // Compact: drop failed images, keep order.
        var labels: [Int] = []
        var sources: [String] = []
        labels.reserveCapacity(files.count)
        sources.reserveCapacity(files.count)
        var kept = 0
        for index in files.indices {
            if let failure = failures[index] {
                let issue = LoadIssue(location: files[index].path, reason: Self.reason(failure, path: files[index].path))
                if strict { throw .malformed(issue) }
                issues.append(issue)
                continue
            }
            if kept != index {
                let from = index * perImage, to = kept * perImage
                pixels.withUnsafeMutableBufferPointer { buffer in
                    (buffer.baseAddress! + to).update(from: buffer.baseAddress! + from, count: perImage)
                }
            }
            labels.append(files[index].label)
            sources.append(files[index].source)
            kept += 1
        }
        pixels.removeLast(pixels.count - kept * perImage)
        guard kept > 0 else {
            throw .noImages(path: folder, split: split, reason: "all \(files.count) image files failed to decode (first: \(issues[0]))")
        }
        let dataset = FaceDataset(imageSize: imageSize, pixels: pixels, labels: labels, sources: sources)
        var notes: [String] = []
        if folder == root { notes.append("\(root) holds class folders directly: read as the \(split.usage) split") }
        if withOtherPrefix > 0 {
            let other: Split = split == .publicTest ? .privateTest : .publicTest
            notes.append("\(folder) holds both test splits: \(withOtherPrefix.counting("\(other.usage)_ file")) left out of \(split.usage)")
        }
        let counts = labels.reduce(into: [Int](repeating: 0, count: Emotion.allCases.count)) { $0[$1] += 1 }
        let missing = Emotion.allCases.filter { counts[$0.rawValue] == 0 }.map(\.name)
        if !missing.isEmpty { notes.append("no \(missing.joined(separator: ", ")) images (class folders missing or empty)") }
        if let first = ignored.min() {
            notes.append("ignored \(ignored.count) entr\(ignored.count == 1 ? "y" : "ies") of class folders that \(ignored.count == 1 ? "is" : "are") not a .png, .jpg or .jpeg file (first: \(first))")
        }
        let notSquare = files.indices.filter { stretched[$0] != nil && failures[$0] == nil }
        if let first = notSquare.first, let shape = stretched[first] {
            notes.append("\(notSquare.count) of \(kept) images are not square (first: \(files[first].path), \(shape.width)x\(shape.height)) and were stretched to \(imageSize)x\(imageSize); crop them to squares around the faces to keep their proportions")
        }
        return (dataset, LoadReport(source: folder, loaded: kept, skipped: issues, notes: notes,
                                    readsEverySplit: folder == root))
    }

    /// The prefix of FER2013's PrivateTest image files (`PrivateTest_10131363.jpg`).
    static let privateTestPrefix = Split.privateTest.usage + "_"

    /// Which files of `folder` belong to `split`: all of them, except in FER2013's own `train/ test/` layout, whose
    /// `test/` may hold both test splits (Kaggle's image copy: `PublicTest_*` and `PrivateTest_*` files): PrivateTest
    /// keeps the files named with its prefix there, PublicTest the others.
    static func testSplitFilter(folder: String, root: String, split: Split) throws(DataError) -> (String) -> Bool {
        guard (folder as NSString).lastPathComponent.lowercased() == "test" else { return { _ in true } }
        let isSharedTest = try !subdirectories(of: root).contains { Split.validationFolderNames.contains($0.lowercased()) }
        switch (isSharedTest, split) {
        case (true, .privateTest): return { $0.hasPrefix(privateTestPrefix) }
        case (true, .publicTest): return { !$0.hasPrefix(privateTestPrefix) }
        default: return { _ in true }
        }
    }

    /// Whether a class folder of `folder` holds a file whose name starts with `prefix`.
    private static func holdsFiles(in folder: String, named prefix: String) throws(DataError) -> Bool {
        for name in try subdirectories(of: folder) where try contents(of: join(folder, name)).contains(where: { $0.hasPrefix(prefix) }) {
            return true
        }
        return false
    }

    // MARK: - File system helpers

    /// A decoder message without the repeated path prefix.
    private static func reason(_ message: String, path: String) -> String {
        message.hasPrefix(path + ": ") ? String(message.dropFirst(path.count + 2)) : message
    }

    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    static func contents(of folder: String) throws(DataError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        } catch {
            throw .unreadable(path: folder, reason: "cannot list the folder: \(error.localizedDescription)")
        }
    }

    static func subdirectories(of folder: String) throws(DataError) -> [String] {
        try contents(of: folder).filter { name in !name.hasPrefix(".") && isFolder(join(folder, name)) }
    }

    /// Whether `path` is a folder (or a link to one).
    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
