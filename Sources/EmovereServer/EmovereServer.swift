import CEmovereCPU
import Emovere
import EmovereFiles
import EmovereVision
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// The Emovere HTTP service: a JSON API for photos, a WebSocket stream for live video, a web page, metrics and an
/// OpenAPI description, on Hummingbird.
///
/// The model and the face detector are loaded once; a ``RecognizerPool`` of `maximumConcurrentAnalyses` recognizers
/// bounds the work in parallel, and requests beyond it and the waiting list are answered 503 at once. Images are
/// decoded from memory and never written to disk.
///
/// Routes: `POST /v1/analyze`, `GET /v1/stream` (WebSocket), `GET /v1/models`, `GET /v1/openapi.json`,
/// `GET /healthz`, `GET /metrics`, `GET /` (the web page, with `/app.js` and `/style.css`).
public struct EmovereServer: Sendable {
    /// Where the server listens and its limits.
    public let configuration: ServerConfiguration
    /// The recognizers shared by all requests.
    public let pool: RecognizerPool
    /// The server's Prometheus metrics.
    public let metrics: ServerMetrics
    /// The server's logger.
    public let logger: Logger

    private let resources: StaticResources
    private let cardJSON: [UInt8]
    private let readiness = Readiness()
    /// The bytes of request bodies held at once: one full body for each analysis that may run or wait
    /// (`(capacity + waiting) * maximumBodyBytes`), so uploads the recognizers could not take anyway cannot add up to
    /// `maximumConnections` bodies in memory. Bytes count as they arrive, so a slow upload holds only what it has sent
    /// (an upload without a declared length grows its array by doubling, so it may briefly use up to twice that).
    private let bodyBudget: Allowance

    /// A server analysing with `pool`.
    /// - Throws: ``ServerError/invalidSetting(name:expected:received:)`` for an out-of-range setting,
    ///   ``ServerError/missingResource(name:reason:)`` when the web page or OpenAPI document is missing from the bundle.
    public init(pool: RecognizerPool, configuration: ServerConfiguration = ServerConfiguration(),
                logger: Logger = EmovereServer.defaultLogger()) throws(ServerError) {
        try configuration.validate()
        self.configuration = configuration
        self.pool = pool
        self.metrics = ServerMetrics()
        self.logger = logger
        // A full body for each analysis that may run or wait (all of memory, for a pool that lets any number wait).
        let places = pool.capacity.addingReportingOverflow(pool.maximumWaiting)
        let budget = places.partialValue.multipliedReportingOverflow(by: configuration.maximumBodyBytes)
        self.bodyBudget = Allowance(limit: places.overflow || budget.overflow ? .max : budget.partialValue)
        self.resources = try StaticResources.load()
        do {
            self.cardJSON = Array(try JSONEncoder.sortedKeys(pretty: true).encode(ModelsResponse(card: pool.card, detector: pool.detector)))
        } catch {
            throw .invalidConfiguration("the model card cannot be encoded as JSON: \(error)")
        }
    }

    /// A server whose pool holds `recognizers` (one per concurrent analysis).
    /// - Throws: a ``ServerError`` for an invalid configuration.
    public static func load(recognizers: [EmotionRecognizer], configuration: ServerConfiguration = ServerConfiguration(),
                            logger: Logger = EmovereServer.defaultLogger()) throws -> EmovereServer {
        try configuration.validate()
        return try EmovereServer(pool: RecognizerPool(recognizers: recognizers,
                                                      maximumWaiting: configuration.maximumWaitingAnalyses),
                                 configuration: configuration, logger: logger)
    }

    /// Loads the model at `modelPath` once per recognizer (folded for inference) and the Haar cascade at
    /// `cascadePath` once, and makes a server with `configuration`.
    /// - Throws: the model file's or cascade's loading error (naming the file), or a ``ServerError``.
    public static func load(modelPath: String, cascadePath: String,
                            configuration: ServerConfiguration = ServerConfiguration(),
                            logger: Logger = EmovereServer.defaultLogger()) throws -> EmovereServer {
        try configuration.validate()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // Each recognizer's detector and model split their work over the cores left to them when every slot is busy.
        let detector = try FaceDetector(cascadePath: cascadePath,
                                        concurrency: max(1, cores / configuration.maximumConcurrentAnalyses))
        let recognizers = try (0..<configuration.maximumConcurrentAnalyses).map { _ in
            let (model, card) = try ModelFile.loadForInference(modelPath)
            model.maximumCopies = max(1, cores / configuration.maximumConcurrentAnalyses)
            return EmotionRecognizer(model: model, card: card, detector: detector)
        }
        return try EmovereServer(pool: RecognizerPool(recognizers: recognizers,
                                                      maximumWaiting: configuration.maximumWaitingAnalyses),
                                 configuration: configuration, logger: logger)
    }

    /// A logger labelled `emovere.server` at the level named by `$LOG_LEVEL` (`trace` ... `critical`; default `info`).
    public static func defaultLogger() -> Logger {
        var logger = Logger(label: "emovere.server")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return logger
    }

    /// The Hummingbird application serving every route; `onServerRunning` receives the bound port once the server
    /// listens (useful with port 0).
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        application(connections: ConnectionRegistry(limit: configuration.maximumConnections),
                    onServerRunning: onServerRunning)
    }

    /// The application, its connections recorded in `connections`.
    func application(connections: ConnectionRegistry,
                     onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let webSocketRouter = Router(context: StreamRequestContext.self)
        webSocketRouter.add(middleware: MetricsMiddleware(metrics: metrics))
        let session = StreamSession(pool: pool, metrics: metrics,
                                    limits: configuration.imageLimits,
                                    maximumFaces: configuration.maximumFacesPerImage,
                                    maximumMessageBytes: configuration.maximumFrameBytes,
                                    streams: Allowance(limit: configuration.maximumStreams),
                                    idleTimeout: .seconds(configuration.streamIdleSeconds),
                                    writeTimeout: .seconds(configuration.requestTimeoutSeconds), logger: logger)
        let crossOrigin = configuration.crossOrigin
        webSocketRouter.ws("/v1/stream", shouldUpgrade: { request, context in
            // Browsers let any page open a WebSocket anywhere: the server checks the page's origin itself (RFC 6455
            // 10.2: 403 for an origin it does not accept).
            let origin = request.headers[.origin]
            guard crossOrigin.decision(origin: origin, host: request.head.authority) != .refused else {
                // Thrown, so the stream's metrics count the 403 the connection's guard answers.
                throw await context.refuseUpgrade(.originNotAllowed(origin: origin ?? ""))
            }
            return .upgrade([:])
        }) { inbound, outbound, context in
            try await session.run(inbound: inbound, outbound: outbound, channel: context.requestContext.channel)
        }
        let logger = logger
        let requestTimeout = TimeAmount.seconds(Int64(configuration.requestTimeoutSeconds))
        // RFC 6455: text frames must be UTF-8; a client that stops answering pings is dropped.
        let webSocket = WebSocketServerConfiguration(maxFrameSize: configuration.maximumFrameBytes,
                                                     autoPing: .enabled(timePeriod: .seconds(30)),
                                                     closeTimeout: .seconds(5), validateUTF8: true)
        let webSocketResponder = webSocketRouter.buildResponder()
        return Application(
            router: router(),
            server: HTTPServerBuilder { responder in
                let responder = ContinuingRequestBody.wrapping(responder)
                return GuardedChannel(inner: HTTP1WebSocketUpgradeChannel(responder: responder,
                                                                          webSocketResponder: webSocketResponder,
                                                                          configuration: .init(ws: webSocket)),
                                      connections: connections, requestTimeout: requestTimeout,
                                      allowsAnyOrigin: configuration.crossOrigin.allowsAnyOrigin)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                 serverName: "emovere"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("listening on http://\(configuration.host):\(port)")
                await onServerRunning(port)
            },
            logger: logger)
    }

    /// Serves until SIGINT or SIGTERM; then `GET /healthz` answers 503 for `configuration.unreadySeconds` while
    /// requests are still served, the server stops listening, lets the requests in flight finish for up to
    /// `configuration.drainSeconds`, closes every connection left and returns. Throws ``ListeningFailure`` when the
    /// address cannot be listened on.
    public func run() async throws {
        logger.info("model \(pool.card.architecture) (\(pool.precision)), \(pool.capacity) recognizers, up to \(configuration.maximumWaitingAnalyses) waiting requests, \(configuration.maximumConnections) connections, bodies up to \(configuration.maximumBodyBytes) bytes, images up to \(configuration.maximumPixels) pixels (JPEGs decoded at up to \(configuration.maximumDecodedPixels))")
        Self.mapLargeAllocations()
        let connections = ConnectionRegistry(limit: configuration.maximumConnections)
        let service = DrainingService(application: application(connections: connections), connections: connections,
                                      drain: .seconds(configuration.drainSeconds), logger: logger)
        // Services stop in reverse order: the unready pause (if any) first, then the application drains.
        var services: [any Service] = [service]
        if configuration.unreadySeconds > 0 {
            services.append(UnreadyService(readiness: readiness, delay: .seconds(configuration.unreadySeconds),
                                           logger: logger))
        }
        let group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                              logger: logger)
        do {
            try await ServiceGroup(configuration: group).run()
        } catch let error as IOError where [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(error.errnoCode) {
            throw ListeningFailure(host: configuration.host, port: configuration.port, code: error.errnoCode)
        }
    }

    /// Makes buffers of 1 MB or more (decoded images) go back to the system when freed instead of staying in the
    /// arenas of the threads that served them (glibc; elsewhere nothing to do): 16 concurrent 40-megapixel requests
    /// measured 575 MB peak instead of 683 MB. Returns whether the C library took the setting.
    @discardableResult
    static func mapLargeAllocations() -> Bool {
        emovere_map_large_allocations(1 << 20) == 1
    }

    /// The HTTP routes (everything but the WebSocket upgrade); HEAD is answered wherever GET is, another method on a
    /// served path gets 405, and the cross-origin policy applies to every request.
    func router() -> Router<ServerRequestContext> {
        typealias Responder = @Sendable (Request, ServerRequestContext) async throws -> Response
        var routes: [(path: String, method: HTTPRequest.Method, respond: Responder)] = []
        func on(_ path: String, _ method: HTTPRequest.Method, _ respond: @escaping Responder) {
            routes.append((path, method, respond))
        }
        on("/v1/analyze", .post) { request, context in try await analyze(request, context: context) }
        func getAndHead(_ path: String, _ respond: @escaping @Sendable () throws -> Response) {
            on(path, .get) { _, _ in try respond() }
            on(path, .head) { _, _ in
                // The GET answer's status and headers, its length announced and no bytes sent.
                var response = try respond()
                response.body = ResponseBody(contentLength: response.body.contentLength) { _ in }
                return response
            }
        }
        getAndHead("/v1/models") { Self.response(cardJSON, contentType: "application/json; charset=utf-8") }
        getAndHead("/healthz") {
            let occupancy = pool.occupancy
            let stopping = readiness.isStopping
            return Self.response(Array(#"{"capacity":\#(pool.capacity),"running":\#(occupancy.running),"status":"\#(stopping ? "stopping" : "ok")","waiting":\#(occupancy.waiting)}"#.utf8),
                                 contentType: "application/json; charset=utf-8", status: stopping ? .serviceUnavailable : .ok)
        }
        getAndHead("/metrics") {
            Self.response(Array(metrics.exposition(pool: pool, uploads: bodyBudget).utf8), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        getAndHead("/v1/stream") { throw ServerError.upgradeRequired(path: "/v1/stream") }
        for (path, file) in resources.files {
            getAndHead(path) { Self.response(file.bytes, contentType: file.contentType) }
        }
        let allowed = Dictionary(grouping: routes, by: \.path).mapValues { $0.map(\.method) }
        let router = Router(context: ServerRequestContext.self)
        // Metrics see every answer (refusals and preflights included); an allowed page's answers, errors with their
        // messages included, get its headers.
        router.add(middleware: MetricsMiddleware(metrics: metrics, servedPaths: Set(allowed.keys)))
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: CrossOriginMiddleware(policy: configuration.crossOrigin, allowed: allowed))
        router.add(middleware: ErrorMessageMiddleware())
        for route in routes { router.on(RouterPath(route.path), method: route.method, use: route.respond) }
        // Added after the routes, it wraps none of them: it sees only the requests that no route took.
        router.add(middleware: AllowedMethodsMiddleware(allowed: allowed))
        return router
    }

    /// `POST /v1/analyze`: faces and emotions of the uploaded image as JSON, or the annotated PNG with
    /// `?annotate=1`.
    func analyze(_ request: Request, context: ServerRequestContext) async throws -> Response {
        let upload = try ImageUpload(contentType: request.headers[.contentType])
        let annotate = try Self.flag(named: "annotate", in: request)
        let limit = configuration.maximumBodyBytes
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        if let declared, declared > limit {
            throw ServerError.bodyTooLarge(received: declared, limit: limit)
        }
        // Refused before its body is read when every recognizer is busy and the waiting list is full.
        try pool.checkRoom()
        var heldBytes = 0
        defer { bodyBudget.give(heldBytes) }
        let body = try await Self.bytes(of: request.body, upTo: limit, declared: declared, budget: bodyBudget,
                                        held: &heldBytes)
        let (bytes, source) = try upload.imageBytes(from: consume body)
        let limits = configuration.imageLimits
        let analysis = try await pool.withRecognizer(isWanted: { !context.clientIsGone }) { recognizer in
            try Analysis.run(bytes: bytes, source: source, limits: limits, maximumFaces: configuration.maximumFacesPerImage,
                             annotate: annotate, with: recognizer)
        }
        metrics.recordFaces(analysis.faces.count)
        bodyBudget.give(heldBytes)  // the upload is analysed: its bytes are done with
        heldBytes = 0
        if annotate, let png = analysis.annotatedPNG {
            return try await annotatedResponse(png, context: context)
        }
        let json = AnalysisResponse(width: analysis.width, height: analysis.height, detector: pool.detector,
                                    faces: analysis.faces.map { FaceRecord($0) }, skippedFaces: analysis.skippedFaces)
        return Self.response(Array(try JSONEncoder.sortedKeys().encode(json)), contentType: "application/json; charset=utf-8")
    }

    /// The bytes of `body`, copied once out of NIO's buffers into an array of the `declared` length, each chunk
    /// taken from `budget` as it arrives and added to `held` (which the caller gives back when done with the bytes).
    /// - Throws: ``ServerError/bodyTooLarge(received:limit:)`` past `limit` bytes,
    ///   ``ServerError/uploadsOverloaded(limit:)`` when `budget` is spent, ``ServerError/malformedRequest(_:)`` when
    ///   the body breaks off or ends short of its declared length.
    static func bytes(of body: RequestBody, upTo limit: Int, declared: Int?, budget: Allowance,
                      held: inout Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        // At most a megabyte reserved before the budget has granted any byte (a declared length is only a claim:
        // under strict overcommit a reservation of every connection's claim could fail); beyond, the array grows.
        bytes.reserveCapacity(min(declared ?? 0, limit, 1 << 20))
        do {
            for try await part in body {
                guard bytes.count + part.readableBytes <= limit else {
                    throw ServerError.bodyTooLarge(received: nil, limit: limit)
                }
                guard budget.take(part.readableBytes) else { throw ServerError.uploadsOverloaded(limit: budget.limit) }
                held += part.readableBytes
                bytes += part.readableBytesView
            }
        } catch let error as ServerError {
            throw error
        } catch {
            // The client went away mid-upload: its fault (400, logged at debug), not the server's (500).
            throw ServerError.malformedRequest("the request body broke off after \(bytes.count) bytes (\(error))")
        }
        // A connection cut for stalling ends the body early as if complete.
        if let declared, bytes.count < declared {
            throw ServerError.malformedRequest(
                "the request body ended after \(bytes.count) of the \(declared) bytes its Content-Length declares")
        }
        return bytes
    }

    /// The boolean query parameter `name`: absent, `0` or `false` is false; `1` or `true` is true.
    /// - Throws: ``ServerError/malformedRequest(_:)`` for any other value.
    static func flag(named name: String, in request: Request) throws(ServerError) -> Bool {
        guard let value = request.uri.queryParameters.get(name) else { return false }
        switch value.lowercased() {
        case "", "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: throw .malformedRequest("query parameter \(name) must be 1 or 0 (true or false), received '\(value)'")
        }
    }

    /// The annotated picture, `png`, as the response, held against the uploads' budget until the connection has sent
    /// it (it can be many times its upload, and a client reading slowly would otherwise keep it in memory uncounted).
    /// - Throws: ``ServerError/annotationTooLarge(bytes:limit:)`` when it is larger than the whole budget,
    ///   ``ServerError/uploadsOverloaded(limit:)`` when the budget has no room for it now.
    private func annotatedResponse(_ png: [UInt8], context: ServerRequestContext) async throws(ServerError) -> Response {
        guard png.count <= bodyBudget.limit else {
            throw .annotationTooLarge(bytes: png.count, limit: bodyBudget.limit)
        }
        guard let hold = Allowance.Hold(png.count, of: bodyBudget) else {
            throw .uploadsOverloaded(limit: bodyBudget.limit)
        }
        await context.keepUntilAnswered(hold)
        return Self.response(png, contentType: "image/png")
    }

    static func response(_ bytes: [UInt8], contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: contentType, .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// The answer of `GET /v1/models`: the model card's fields and the face detector's description under `detector`.
struct ModelsResponse: Encodable {
    var card: ModelCard
    var detector: DetectorDescription

    private enum CodingKeys: String, CodingKey { case detector }

    func encode(to encoder: any Encoder) throws {
        try card.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(detector, forKey: .detector)
    }
}
