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

    /// A file replaced keeps its permissions; a new one gets the usual 0644 (less the umask).
    @Test func aReplacedFileKeepsItsPermissions() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/model.safetensors"
        try AtomicFile.write("first", to: path)
        func mode() throws -> Int { try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) }
        #expect(try mode() & 0o600 == 0o600)
        for permissions in [0o444, 0o640] {
            try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: path)
            try AtomicFile.write("again", to: path)
            #expect(try mode() == permissions && FileContents.bytes(atPath: path) == Array("again".utf8))
        }
    }

    /// A write that replaces a file read before (`replacing` its identity) refuses a file another program wrote since,
    /// or one removed since, leaving no temporary; the file read itself is replaced.
    @Test func aFileWrittenSinceItWasReadIsNotReplaced() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/model.safetensors"
        try AtomicFile.write("read", to: path)
        let read = try #require(FileIdentity(ofFileAt: path))
        #expect(FileIdentity(ofFileAt: path) == read && FileIdentity(ofFileAt: folder + "/none") == nil)
        try AtomicFile.write("saved meanwhile", to: path)
        let error = #expect(throws: AtomicFile.WriteError.self) { try AtomicFile.write(Array("stale".utf8), to: path, replacing: read) }
        #expect(error?.description.contains("another program wrote it after it was read") == true, "\(String(describing: error))")
        #expect(try FileContents.bytes(atPath: path) == Array("saved meanwhile".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["model.safetensors"])
        #expect(error?.description.contains("expected the file read, inode ") == true, "\(String(describing: error))")
        let current = try #require(FileIdentity(ofFileAt: path))
        try AtomicFile.write(Array("edited".utf8), to: path, replacing: current)
        #expect(try FileContents.bytes(atPath: path) == Array("edited".utf8))
        let edited = try #require(FileIdentity(ofFileAt: path))
        try FileManager.default.removeItem(atPath: path)
        let removed = #expect(throws: AtomicFile.WriteError.self) {
            try AtomicFile.write(Array("stale".utf8), to: path, replacing: edited)
        }
        #expect(removed?.description.contains("it was removed or moved after it was read") == true
                && !FileManager.default.fileExists(atPath: path), "\(String(describing: removed))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    /// Temporary files of writers that were killed are removed; a live writer's, and other hidden files, stay.
    @Test func abandonedTemporaryFilesAreRemoved() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Beyond Linux's largest process id (4,194,304): no such process.
        let gone = [".checkpoint.safetensors.tmp-999999999-1f2e", ".clip.mp4.partial-999999999-ab.mp4"]
        let kept = [".log.csv.tmp-\(getpid())-9c", ".notes-999999999-1", ".x.tmp-999999999-zz", "log.csv"]
        for name in gone + kept { try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/" + name)) }
        #expect(try AtomicFile.removeAbandonedTemporaryFiles(in: folder).sorted() == gone.sorted())
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == kept.sorted())
        #expect(try AtomicFile.removeAbandonedTemporaryFiles(in: folder + "/missing") == [])
    }

    /// With targets, only the temporary files of those names go: another machine's writer in a shared folder writes
    /// other names, and its process id means nothing here.
    @Test func abandonedTemporaryFilesOfChosenTargets() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let mine = [".a-2.annotated.jpg.tmp-999999999-1f", ".clip-1.mp4.partial-999999999-ab.mp4"]
        let others = ".b.annotated.jpg.tmp-999999999-2e"
        for name in mine + [others] { try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/" + name)) }
        #expect(try AtomicFile.removeAbandonedTemporaryFiles(in: folder, targets: ["a-2.annotated.jpg", "clip-1.mp4"]).sorted()
                == mine.sorted())
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == [others])
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

    /// A run's folder (training's --out) made with the folders above it; a file in its place is named.
    @Test func foldersAreCreatedAlone() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try AtomicFile.createFolder(atPath: folder + "/runs/first")
        try AtomicFile.createFolder(atPath: folder + "/runs/first")  // an existing folder is no error
        var isFolder: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: folder + "/runs/first", isDirectory: &isFolder) && isFolder.boolValue)
        try AtomicFile.write("x", to: folder + "/runs/file")
        let error = try #require(throws: AtomicFile.WriteError.self) { try AtomicFile.createFolder(atPath: folder + "/runs/file") }
        #expect(error.description.contains("a file of that name exists"), "\(error)")
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

    @Test func writesThroughSymbolicLinks() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let files = FileManager.default
        try files.createDirectory(atPath: folder + "/versions", withIntermediateDirectories: true)
        try AtomicFile.write("old", to: folder + "/versions/v3.json")
        // A relative link to a link, as `ln -s versions/v3.json current.json` leaves it.
        try files.createSymbolicLink(atPath: folder + "/current.json", withDestinationPath: "versions/v3.json")
        try files.createSymbolicLink(atPath: folder + "/latest.json", withDestinationPath: folder + "/current.json")
        try AtomicFile.write("new", to: folder + "/latest.json")
        #expect(try files.destinationOfSymbolicLink(atPath: folder + "/latest.json") == folder + "/current.json")
        #expect(try files.destinationOfSymbolicLink(atPath: folder + "/current.json") == "versions/v3.json")
        #expect(try FileContents.bytes(atPath: folder + "/versions/v3.json") == Array("new".utf8))
        #expect(try files.contentsOfDirectory(atPath: folder + "/versions") == ["v3.json"])
        // A link to a missing file names the file to create.
        try files.createSymbolicLink(atPath: folder + "/next.json", withDestinationPath: "versions/v4.json")
        try AtomicFile.write("fresh", to: folder + "/next.json")
        #expect(try FileContents.bytes(atPath: folder + "/versions/v4.json") == Array("fresh".utf8))
        #expect(try files.destinationOfSymbolicLink(atPath: folder + "/next.json") == "versions/v4.json")
    }

    @Test func refusesALoopOfLinks() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/a", withDestinationPath: "b")
        try FileManager.default.createSymbolicLink(atPath: folder + "/b", withDestinationPath: "a")
        let error = try #require(throws: AtomicFile.WriteError.self) { try AtomicFile.write("x", to: folder + "/a") }
        #expect(error.operation == "following symbolic links", "\(error)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder + "/a") == "b")
    }

    /// A device, pipe or socket is not replaced by a file (as root a rename over `/dev/null` replaced it for every
    /// program), nor is a link to one (`/dev/stdout`).
    @Test func refusesToReplaceAPipe() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pipe = folder + "/pipe"
        try #require(mkfifo(pipe, 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: "pipe")
        for target in [pipe, folder + "/link"] {
            let error = try #require(throws: AtomicFile.WriteError.self) { try AtomicFile.write("x", to: target) }
            #expect(error.path == target && error.reason.hasPrefix("it is a named pipe, not a regular file"), "\(error)")
        }
        var status = stat()
        #expect(lstat(pipe, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["link", "pipe"])
    }

    @Test func splitsPaths() {
        #expect(AtomicFile.split("model.safetensors") == (".", "model.safetensors"))
        #expect(AtomicFile.split("/m.safetensors") == ("/", "m.safetensors"))
        #expect(AtomicFile.split("a/b/m.safetensors") == ("a/b", "m.safetensors"))
    }
}
