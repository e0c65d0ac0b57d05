import Emovere
import EmovereNN
import EmovereServer
import EmovereVision
import Foundation
import Logging
import Synchronization

/// Shared inputs of the server tests: the model (the bundled `models/default.safetensors` when present, otherwise
/// a seeded tiny CNN saved once to a temporary file), the Haar cascade fixture and the sample photo.
enum ServerFixture {
    /// The repository root.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let cascadePath = root + "/Tests/EmovereVisionTests/Fixtures/haarcascade_frontalface_default.xml"
    static let samplePath = root + "/samples/astronaut.jpg"

    /// The sample photo (512x512, one face) as JPEG bytes.
    static let sampleJPEG: [UInt8] = {
        guard let data = FileManager.default.contents(atPath: samplePath) else {
            preconditionFailure("missing test input \(samplePath)")
        }
        return [UInt8](data)
    }()

    /// The model file the tests load.
    static let modelPath: String = {
        let bundled = root + "/models/default.safetensors"
        if FileManager.default.fileExists(atPath: bundled) { return bundled }
        let path = NSTemporaryDirectory() + "emovere-server-tests-\(getpid())-tiny.safetensors"
        do {
            let architecture = Architecture(name: "tiny-cnn", inputSize: 48)
            let model = try Model(architecture: architecture, seed: 7)
            let card = ModelCard(architecture: architecture, preprocessing: .symmetric(inputSize: 48),
                                 parameterCount: model.parameterCount)
            try ModelFile.save(model, card: card, to: path)
        } catch {
            preconditionFailure("cannot write the test model to \(path): \(error)")
        }
        return path
    }()

    /// A quiet logger (warnings and errors only).
    static var logger: Logger {
        var logger = Logger(label: "emovere.server.tests")
        logger.logLevel = .warning
        return logger
    }

    /// The configuration of most server tests: port 0 (live tests get a free port) and connection timeouts of an
    /// hour, so a test client that idles while a debug build analyses on a busy machine keeps its connection (the
    /// timeouts themselves are tested in ConnectionGuardTests).
    static let patientConfiguration = ServerConfiguration(port: 0, requestTimeoutSeconds: 3600, streamIdleSeconds: 3600)

    /// A server with the test model, `configuration` and `logger`. The model runs without test-time augmentation, so
    /// a debug build answers quickly on a busy machine (the recognizer's averaging over views is tested in
    /// EmovereTests).
    static func server(_ configuration: ServerConfiguration = patientConfiguration,
                       logger: Logger = ServerFixture.logger) throws -> EmovereServer {
        let detector = try FaceDetector(cascadePath: cascadePath)
        let recognizers = try (0..<configuration.maximumConcurrentAnalyses).map { _ in
            var (model, card) = try ModelFile.loadForInference(modelPath)
            card.testTimeAugmentation = nil
            return EmotionRecognizer(model: model, card: card, detector: detector)
        }
        return try EmovereServer.load(recognizers: recognizers, configuration: configuration, logger: logger)
    }

    /// A server whose pool is `recognizers` recognizers admitting `waiting` waiting requests.
    static func server(recognizers: Int, waiting: Int) throws -> EmovereServer {
        try server(ServerConfiguration(port: 0, maximumConcurrentAnalyses: recognizers, maximumWaitingAnalyses: waiting,
                                       requestTimeoutSeconds: 3600, streamIdleSeconds: 3600))
    }
}

/// Keeps the messages a server logs at `error` level or above (and prints nothing), for tests of what it logs.
final class ErrorLog: Sendable {
    private let messages = Mutex<[String]>([])

    /// The messages kept so far.
    var recorded: [String] { messages.withLock { $0 } }

    /// A logger whose errors go to this log.
    var logger: Logger {
        Logger(label: "emovere.server.tests") { _ in Handler(owner: self) }
    }

    private struct Handler: LogHandler {
        let owner: ErrorLog
        var logLevel = Logger.Level.error
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            owner.messages.withLock { $0.append("\(event.message) \(event.metadata ?? [:])") }
        }
    }
}
