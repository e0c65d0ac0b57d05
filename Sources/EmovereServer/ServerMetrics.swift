import Hummingbird
import Logging
import Prometheus

/// The server's Prometheus metrics, in a registry of its own (so several servers in one process, as in tests,
/// do not mix their counts), served as text at `GET /metrics`.
public final class ServerMetrics: Sendable {
    /// The registry every metric lives in.
    public let registry = PrometheusCollectorRegistry()

    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    private static var requests: MetricNameDescriptor {
        .init(namespace: "emovere", subsystem: "http", metricName: "requests", unitName: "total",
              helpText: "HTTP requests by route, method and status.")
    }
    private static var requestDuration: MetricNameDescriptor {
        .init(namespace: "emovere", subsystem: "http", metricName: "request_duration", unitName: "seconds",
              helpText: "HTTP request latency by route and method.")
    }
    private static var faces: MetricNameDescriptor {
        .init(namespace: "emovere", metricName: "faces_analysed", unitName: "total",
              helpText: "Faces found and classified, photos and stream frames together.")
    }
    private static var streamFrames: MetricNameDescriptor {
        .init(namespace: "emovere", subsystem: "stream", metricName: "frames", unitName: "total",
              helpText: "WebSocket frames received, by outcome (analysed, failed, or dropped because a newer frame came).")
    }
    private static var streamConnections: MetricNameDescriptor {
        .init(namespace: "emovere", subsystem: "stream", metricName: "connections", unitName: "",
              helpText: "Open WebSocket stream connections.")
    }
    private static var analysesRunning: MetricNameDescriptor {
        .init(namespace: "emovere", subsystem: "analyses", metricName: "running", unitName: "",
              helpText: "Analyses running now (recognizers in use).")
    }
    private static var analysesWaiting: MetricNameDescriptor {
        .init(namespace: "emovere", subsystem: "analyses", metricName: "waiting", unitName: "",
              helpText: "Requests waiting for a free recognizer.")
    }
    private static var uploadBytes: MetricNameDescriptor {
        .init(namespace: "emovere", subsystem: "uploads", metricName: "held", unitName: "bytes",
              helpText: "Bytes of request bodies (being received or analysed) and annotated pictures (being sent) held now.")
    }

    private let faces: Counter
    private let streamFramesAnalysed: Counter
    private let streamFramesDropped: Counter
    private let streamFramesFailed: Counter
    private let streamConnections: Gauge
    private let analysesRunning: Gauge
    private let analysesWaiting: Gauge
    private let uploadBytesHeld: Gauge

    /// Creates the registry and the metrics that exist from the start.
    public init() {
        faces = registry.makeCounter(descriptor: Self.faces, labels: [])
        streamFramesAnalysed = registry.makeCounter(descriptor: Self.streamFrames, labels: [("outcome", "analysed")])
        streamFramesDropped = registry.makeCounter(descriptor: Self.streamFrames, labels: [("outcome", "dropped")])
        streamFramesFailed = registry.makeCounter(descriptor: Self.streamFrames, labels: [("outcome", "failed")])
        streamConnections = registry.makeGauge(descriptor: Self.streamConnections, labels: [])
        analysesRunning = registry.makeGauge(descriptor: Self.analysesRunning, labels: [])
        analysesWaiting = registry.makeGauge(descriptor: Self.analysesWaiting, labels: [])
        uploadBytesHeld = registry.makeGauge(descriptor: Self.uploadBytes, labels: [])
    }

    /// Counts one HTTP request of `method` on `route` (the route pattern, not the raw path) answered with `status`
    /// after `duration`.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: Self.requests,
                             labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: Self.requestDuration, labels: [("route", route), ("method", method)],
                                       buckets: Self.durationBuckets).record(duration)
    }

    /// Counts `count` analysed faces.
    func recordFaces(_ count: Int) {
        if count > 0 { faces.increment(by: Int64(count)) }
    }

    /// Counts one analysed stream frame and the `dropped` stale frames skipped before it.
    func recordStreamFrame(dropped: Int, failed: Bool = false) {
        (failed ? streamFramesFailed : streamFramesAnalysed).increment()
        if dropped > 0 { streamFramesDropped.increment(by: Int64(dropped)) }
    }

    /// Adds `change` (+1 or -1) to the open stream connections.
    func recordStreamConnection(_ change: Int) {
        streamConnections.increment(by: Double(change))
    }

    /// The Prometheus text exposition of every metric, with the pool's current occupancy and the upload bytes held.
    func exposition(pool: RecognizerPool, uploads: Allowance) -> String {
        let occupancy = pool.occupancy
        analysesRunning.set(Double(occupancy.running))
        analysesWaiting.set(Double(occupancy.waiting))
        uploadBytesHeld.set(Double(uploads.held))
        return registry.emitToString()
    }
}

/// Records every request's route, status and latency in ``ServerMetrics`` and logs server errors once. A request for
/// a served path is counted under the path, whether a route took it or not (a 405, a preflight); any other under
/// Hummingbird's `NotFound`, so the label's values stay few.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    /// The paths served, with any method.
    var servedPaths: Set<String> = []

    private func route(of request: Request, context: Context) -> String {
        servedPaths.contains(request.uri.path) ? request.uri.path : context.endpointPath ?? "NotFound"
    }

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            let duration = ContinuousClock.now - start
            metrics.recordRequest(route: route(of: request, context: context), method: request.method.rawValue,
                                  status: response.status.code, duration: duration)
            context.logger.debug("\(request.method) \(request.uri.path): \(response.status.code) in \(duration)")
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            metrics.recordRequest(route: route(of: request, context: context), method: request.method.rawValue,
                                  status: status.code, duration: ContinuousClock.now - start)
            if status.code >= 500, status != .serviceUnavailable, status != .notImplemented {
                context.logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            } else {
                context.logger.debug("\(request.method) \(request.uri.path): \(status.code) \(error)")
            }
            throw error
        }
    }
}
