import Foundation
import Testing

/// The Keras files `make_keras_fixture.py` writes (seeded mini-Xception 48x48, a variant with a wrong pool,
/// a weights-only file) and the NumPy reference probabilities, in a fresh temporary folder.
struct KerasFixture {
    /// Debian's interpreter, which sees python3-h5py and python3-numpy (a python3 earlier on PATH may not).
    static let python = "/usr/bin/python3"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("make_keras_fixture.py").path
    static let setupHint = "run scripts/test.sh, which installs python3, python3-h5py and python3-numpy"

    /// What the script computed: 0-255 pixels of each image (row-major) and its probabilities in FER2013 order.
    struct Reference: Decodable {
        var inputSize: Int
        var pixels: [[Float]]
        var probabilities: [[Float]]
    }

    let directory: String

    /// Runs the script; fails the test with a hint when Python, h5py or NumPy is missing.
    init() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "\(Self.python) is missing: \(Self.setupHint)")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-keras-\(UUID().uuidString)").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.script, directory]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus != 0 { remove() }
        try #require(process.terminationStatus == 0,
                     "make_keras_fixture.py failed (\(Self.setupHint) if h5py or numpy is missing):\n\(message)")
    }

    /// The path of a file the script wrote, e.g. `"mini_xception.hdf5"`.
    func path(_ name: String) -> String {
        directory + "/" + name
    }

    func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: path("reference.json"))))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
