import ArgumentParser
import Dispatch
import EmovereServer
import EmovereVision
import Foundation

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the HTTP API, the live WebSocket stream and the webcam web page.",
        discussion: """
            Routes: POST /v1/analyze (JPEG/PNG body or multipart form; ?annotate=1 for the annotated PNG), \
            GET /v1/stream (WebSocket: JPEG frames in, JSON faces out), GET /v1/models, GET /v1/openapi.json, \
            GET /healthz, GET /metrics (Prometheus) and GET / (the web page). The model and the detector are \
            loaded once; --max-concurrent analyses run in parallel, --max-waiting requests may wait, and any \
            more are answered 503. SIGINT or SIGTERM stops the server after the requests in flight. \
            LOG_LEVEL=debug logs every request.
            """)

    @Option(help: "Address to listen on (0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @OptionGroup var detection: DetectorOptions

    @Option(help: "Analyses run in parallel (recognizers in the pool; default: the number of cores).")
    var maxConcurrent = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Requests that may wait for a free recognizer before the server answers 503.")
    var maxWaiting = 32

    @Option(help: "Largest request body and WebSocket frame, in bytes.")
    var maxBodyBytes = 10 * 1024 * 1024

    @Option(help: "Largest image, in pixels (width x height).")
    var maxPixels = 40_000_000

    var configuration: ServerConfiguration {
        ServerConfiguration(host: host, port: port, maximumConcurrentAnalyses: maxConcurrent,
                            maximumWaitingAnalyses: maxWaiting, maximumBodyBytes: maxBodyBytes, maximumPixels: maxPixels)
    }

    func validate() throws {
        do {
            try configuration.validate()
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let server = try EmovereServer.load(recognizers: detection.makeRecognizers(count: maxConcurrent),
                                            configuration: configuration)
        // The root command is synchronous: run the server on Swift concurrency's threads and wait for it here.
        let outcome = Locked<Result<Void, any Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        Task {
            let result = await Result { try await server.run() }
            outcome.withValue { $0 = result }
            finished.signal()
        }
        finished.wait()
        if case let .failure(error)? = outcome.withValue({ $0 }) {
            throw ServeError(description: "cannot serve on \(host):\(port): \(error)")
        }
        server.logger.info("stopped")
    }
}

/// Why a server that started could not go on serving (a port in use, say); printed as `Error: ...`.
struct ServeError: Error, CustomStringConvertible {
    let description: String
}

extension Result where Failure == any Error {
    /// The outcome of an asynchronous throwing call.
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
