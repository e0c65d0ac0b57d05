import ArgumentParser
import EmovereServer
import EmovereVision
import Foundation

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the HTTP API, the live WebSocket stream and the webcam web page.",
        discussion: """
            Routes: POST /v1/analyze (JPEG/PNG body or multipart form; ?annotate=1 for the annotated PNG), \
            GET /v1/stream (WebSocket: JPEG frames in, JSON faces out), GET /v1/models, GET /v1/openapi.json, \
            GET /healthz, GET /metrics (Prometheus) and GET / (the web page). The model and the detector are \
            loaded once; --max-concurrent analyses run in parallel, --max-waiting requests may wait, and any \
            more are answered 503. Every connection is bounded (--request-timeout, --max-connections, \
            --stream-idle-timeout); a malformed request gets 400 (431, 501) and the connection is closed; HEAD is \
            answered wherever GET is. Another site's web page is answered 403 unless --allow-origin names it (CORS). SIGINT or SIGTERM makes GET /healthz answer 503 for --unready-seconds while \
            requests are still served (so a load balancer takes the replica out first), then stops listening, lets the \
            requests in flight finish for up to --drain-seconds, closes what is left and exits 0. \
            LOG_LEVEL=debug logs every request.
            """)

    @Option(help: "Address to listen on (0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @OptionGroup var detection: DetectorOptions

    @OptionGroup var arithmetic: PrecisionOptions

    @Option(help: "Analyses run in parallel (recognizers in the pool; default: the number of cores, at most 256).")
    var maxConcurrent: Int?

    @Option(help: "Requests that may wait for a free recognizer before the server answers 503.")
    var maxWaiting = 32

    @Option(help: "Largest request body, in bytes.")
    var maxBodyBytes = 10 * 1024 * 1024

    @Option(help: "Largest WebSocket frame (a camera frame on /v1/stream), in bytes; a stream holds about three at once.")
    var maxFrameBytes = 2 * 1024 * 1024

    @Option(help: "Most WebSocket streams open at once; another is closed as it opens (code 1013, try again later).")
    var maxStreams = 32

    @OptionGroup var imageLimits: ImageLimitOptions

    @Option(help: "Most faces analysed per image or frame (the largest); the rest are counted as skippedFaces.")
    var maxFaces = 64

    @Option(help: "Most connections open at once (HTTP and WebSocket); more are answered 503 and closed.")
    var maxConnections = 512

    @Option(help: "Seconds a request (line, headers and body) has to arrive, counted from the connection's start or its previous response; also the keep-alive idle limit, and how long a WebSocket stream's reply may wait for the client to read.")
    var requestTimeout = 30

    @Option(help: "Seconds a WebSocket stream may go without a message before the server closes it.")
    var streamIdleTimeout = 60

    @Option(help: "Seconds after SIGTERM or SIGINT during which /healthz answers 503 and requests are still served, before the server stops listening (behind a load balancer: at least its health-check interval times its failure count).")
    var unreadySeconds = 0

    @Option(help: "Seconds to let requests in flight finish once the server has stopped listening, before closing every connection.")
    var drainSeconds = 10

    @Option(name: .customLong("allow-origin"), help: ArgumentHelp(
        "A web page origin besides the server's own that may call the API and open streams from a browser (CORS), e.g. https://app.example.com; repeatable; * allows any page. Other sites' pages get 403.",
        valueName: "origin"))
    var allowedOrigins: [String] = []

    var configuration: ServerConfiguration {
        var configuration = ServerConfiguration(
            host: host, port: port, maximumConcurrentAnalyses: maxConcurrent ?? ServerConfiguration.defaultConcurrentAnalyses,
            maximumWaitingAnalyses: maxWaiting,
            maximumBodyBytes: maxBodyBytes, maximumConnections: maxConnections, requestTimeoutSeconds: requestTimeout,
            streamIdleSeconds: streamIdleTimeout, unreadySeconds: unreadySeconds, drainSeconds: drainSeconds,
            maximumFacesPerImage: maxFaces, maximumFrameBytes: maxFrameBytes, maximumStreams: maxStreams)
        configuration.crossOrigin = CrossOriginPolicy(allowedOrigins: allowedOrigins)
        if let maxPixels = imageLimits.maxPixels { configuration.maximumPixels = maxPixels }
        if let maxDecodedPixels = imageLimits.maxDecodedPixels { configuration.maximumDecodedPixels = maxDecodedPixels }
        return configuration
    }

    func validate() throws {
        do {
            try configuration.validate()
        } catch let .invalidSetting(name, expected, received) {
            throw ValidationError("--\(name) must be \(expected), received \(received)")
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let server = try EmovereServer.load(recognizers: detection.makeRecognizers(count: configuration.maximumConcurrentAnalyses, precision: arithmetic.precision),
                                            configuration: configuration)
        do {
            try await server.run()
        } catch let error as ListeningFailure {
            throw CommandFailure(error.description)
        } catch {
            throw CommandFailure("cannot serve on \(host):\(port): \(error)")
        }
        server.logger.info("stopped")
    }
}
