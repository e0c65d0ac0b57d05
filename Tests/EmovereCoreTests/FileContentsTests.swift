import EmovereCore
import Foundation
import Testing

/// The one whole-file reader: regular files read whole, everything else refused by name without blocking.
struct FileContentsTests {
    let folder: String

    init() throws {
        folder = NSTemporaryDirectory() + "emovere-file-contents-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    @Test func readsARegularFileWhole() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var random = SplitMix64(seed: 3)
        let content = (0..<200_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }  // several read calls
        let path = folder + "/data.bin"
        try Data(content).write(to: URL(fileURLWithPath: path))
        #expect(try FileContents.bytes(atPath: path) == content)
        let empty = folder + "/empty"
        try Data().write(to: URL(fileURLWithPath: empty))
        #expect(try FileContents.bytes(atPath: empty).isEmpty)
    }

    /// A named pipe with no writer would block a plain open or read forever; it is refused at once.
    /// A file larger than the reader's limit is refused before it is read: a sparse 300 MB "photo" took all memory.
    @Test func refusesAFileOverTheLimitUnread() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sparse = folder + "/huge.jpg"
        #expect(FileManager.default.createFile(atPath: sparse, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: sparse))
        try handle.truncate(atOffset: 300 << 20)
        try handle.close()
        #expect(throws: FileContents.ReadError(path: sparse, reason: "it holds 314572800 bytes, more than the 268435456 expected at most")) {
            try FileContents.bytes(atPath: sparse, maximumBytes: 256 << 20)
        }
        // Without a limit of the reader's own (a model file, a CSV file): a sparse file of terabytes failed to
        // allocate and stopped the process.
        let handle2 = try #require(FileHandle(forWritingAtPath: sparse))
        try handle2.truncate(atOffset: 3 << 30)
        try handle2.close()
        #expect(throws: FileContents.ReadError(path: sparse, reason: "it holds \(3 << 30) bytes, more than the \(FileContents.largestFileBytes) expected at most")) {
            try FileContents.bytes(atPath: sparse)
        }
    }

    @Test func refusesFoldersPipesAndDevicesByName() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pipe = folder + "/pipe"
        try #require(mkfifo(pipe, 0o600) == 0)
        for (path, found) in [(folder, "a folder"), (pipe, "a named pipe"), ("/dev/null", "a device")] {
            #expect(throws: FileContents.ReadError(path: path, reason: "expected a regular file, found \(found)")) {
                try FileContents.bytes(atPath: path)
            }
        }
        let missing = folder + "/absent"
        let error = try #require(throws: FileContents.ReadError.self) { try FileContents.bytes(atPath: missing) }
        #expect(error.path == missing && error.reason.contains("No such file"), "\(error)")
        #expect(error.description.hasPrefix("cannot read \(missing): "))
    }
}
