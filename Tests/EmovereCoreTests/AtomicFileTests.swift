import Foundation
import Testing

@testable import EmovereCore

/// The one atomic writer: a complete file or the old one under the final name, never a temporary left behind.
struct AtomicFileTests {
    let folder: String

    init() throws {
        folder = NSTemporaryDirectory() + "emovere-atomic-file-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    @Test func replacesAFileAndLeavesNoTemporary() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/report.json"
        try AtomicFile.write("first", to: path)
        try AtomicFile.write([1, 2, 3], to: path)
        #expect(try FileContents.bytes(atPath: path) == [1, 2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["report.json"])
    }

    @Test func commitsAStreamedTemporaryFile() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/frames.csv"
        let temporary = try AtomicFile.temporaryPath(for: path, tag: "partial")
        #expect(temporary.hasPrefix(folder + "/.frames.csv.partial-"))
        try Data("a,b\n".utf8).write(to: URL(fileURLWithPath: temporary))
        try AtomicFile.commit(temporaryPath: temporary, to: path)
        #expect(try FileContents.bytes(atPath: path) == Array("a,b\n".utf8))
        #expect(!FileManager.default.fileExists(atPath: temporary))
    }

    @Test func missingFoldersAreCreated() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/reports/today/report.json"
        try AtomicFile.write("{}", to: path)
        #expect(try FileContents.bytes(atPath: path) == Array("{}".utf8))
    }

    @Test func failuresNameThePathAndTheStep() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try AtomicFile.write("a file, not a folder", to: folder + "/file.txt")
        let belowAFile = folder + "/file.txt/model.safetensors"
        let error = try #require(throws: AtomicFile.WriteError.self) { try AtomicFile.write("x", to: belowAFile) }
        #expect(error.path == belowAFile)
        #expect(error.description.contains("creating folder \(folder)/file.txt"), "\(error)")
        #expect(throws: AtomicFile.WriteError.self) { try AtomicFile.write("x", to: folder + "/") }
    }

    @Test func splitsPaths() {
        #expect(AtomicFile.split("model.safetensors") == (".", "model.safetensors"))
        #expect(AtomicFile.split("/m.safetensors") == ("/", "m.safetensors"))
        #expect(AtomicFile.split("a/b/m.safetensors") == ("a/b", "m.safetensors"))
    }
}
