import EmovereVision
import Foundation

/// Where `emovere serve` listens and the limits it enforces on every request.
public struct ServerConfiguration: Sendable, Equatable {
    /// The address to bind, e.g. `127.0.0.1` (loopback only) or `0.0.0.0` (every interface).
    public var host: String
    /// The TCP port; 0 picks a free port (reported through `EmovereServer.application(onServerRunning:)`).
    public var port: Int
    /// How many photos or frames are analysed in parallel: the number of recognizers in the pool.
    public var maximumConcurrentAnalyses: Int
    /// How many requests may wait for a free recognizer; beyond that the server answers 503 at once.
    public var maximumWaitingAnalyses: Int
    /// The largest accepted request body, in bytes; larger ones get 413.
    public var maximumBodyBytes: Int
    /// The largest accepted WebSocket frame (a camera frame on `/v1/stream`), in bytes; a larger one closes the stream.
    /// Each stream may hold about three (one arriving, one waiting, one analysed).
    public var maximumFrameBytes: Int
    /// The most WebSocket streams open at once; another is closed as it opens (code 1013, try again later).
    public var maximumStreams: Int
    /// The largest accepted image, in pixels (`width * height`, read from the header before decoding); larger
    /// ones get 413.
    public var maximumPixels: Int
    /// JPEGs with more pixels are decoded at a reduced scale (`ImageLimits.maximumDecodedPixels`): faces are still
    /// reported in the stored photo's pixels.
    public var maximumDecodedPixels: Int
    /// The most connections open at once (HTTP and WebSocket); more are answered 503 and closed.
    public var maximumConnections: Int
    /// Seconds a request has to arrive whole (request line, headers, body) after the connection opens or the
    /// previous response ends; slower connections are closed (408 when no request arrived at all). Also how long a
    /// WebSocket stream's reply may wait for the client to read before its connection is cut.
    public var requestTimeoutSeconds: Int
    /// Seconds a WebSocket stream may stay without a message from the client before the server closes it.
    public var streamIdleSeconds: Int
    /// Seconds after SIGTERM or SIGINT during which `GET /healthz` answers 503 while the server still listens and
    /// serves, so a load balancer's health check takes it out of rotation first; 0 stops listening at once.
    public var unreadySeconds: Int
    /// Seconds the server waits, once it has stopped listening, for requests in flight before it closes every
    /// connection and returns.
    public var drainSeconds: Int
    /// The most faces classified in one image or frame (the largest detections); the rest are reported as skipped.
    public var maximumFacesPerImage: Int
    /// Which other sites' pages may call the server from a browser (none by default: only the server's own page).
    public var crossOrigin = CrossOriginPolicy()

    /// The most analyses `validate()` accepts in parallel.
    public static let concurrentAnalysesLimit = 256

    /// The default of `maximumConcurrentAnalyses`: the number of active cores, at most ``concurrentAnalysesLimit``.
    public static var defaultConcurrentAnalyses: Int {
        min(ProcessInfo.processInfo.activeProcessorCount, concurrentAnalysesLimit)
    }

    /// A configuration; `maximumConcurrentAnalyses` defaults to the number of active cores (at most 256).
    public init(host: String = "127.0.0.1", port: Int = 8080,
                maximumConcurrentAnalyses: Int = ServerConfiguration.defaultConcurrentAnalyses,
                maximumWaitingAnalyses: Int = 32,
                maximumBodyBytes: Int = 10 * 1024 * 1024,
                maximumPixels: Int = 40_000_000,
                maximumDecodedPixels: Int = 16_000_000,
                maximumConnections: Int = 512,
                requestTimeoutSeconds: Int = 30,
                streamIdleSeconds: Int = 60,
                unreadySeconds: Int = 0,
                drainSeconds: Int = 10,
                maximumFacesPerImage: Int = 64,
                maximumFrameBytes: Int = 2 * 1024 * 1024,
                maximumStreams: Int = 32) {
        self.host = host
        self.port = port
        self.maximumConcurrentAnalyses = maximumConcurrentAnalyses
        self.maximumWaitingAnalyses = maximumWaitingAnalyses
        self.maximumBodyBytes = maximumBodyBytes
        self.maximumPixels = maximumPixels
        self.maximumDecodedPixels = maximumDecodedPixels
        self.maximumConnections = maximumConnections
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.streamIdleSeconds = streamIdleSeconds
        self.unreadySeconds = unreadySeconds
        self.drainSeconds = drainSeconds
        self.maximumFacesPerImage = maximumFacesPerImage
        self.maximumFrameBytes = maximumFrameBytes
        self.maximumStreams = maximumStreams
    }

    /// The limits every image and frame is decoded under.
    public var imageLimits: ImageLimits {
        ImageLimits(maximumPixels: maximumPixels, maximumDecodedPixels: maximumDecodedPixels)
    }

    /// Throws ``ServerError/invalidSetting(name:expected:received:)`` naming the first setting out of range.
    public func validate() throws(ServerError) {
        try Self.check("port", port, in: 0...65535)
        try Self.check("max-concurrent", maximumConcurrentAnalyses, in: 1...Self.concurrentAnalysesLimit)
        try Self.check("max-waiting", maximumWaitingAnalyses, in: 0...100_000)
        try Self.check("max-connections", maximumConnections, in: 1...100_000)
        try Self.check("request-timeout", requestTimeoutSeconds, in: 1...3600)
        try Self.check("stream-idle-timeout", streamIdleSeconds, in: 1...86_400)
        try Self.check("unready-seconds", unreadySeconds, in: 0...3600)
        try Self.check("drain-seconds", drainSeconds, in: 0...3600)
        try Self.check("max-faces", maximumFacesPerImage, in: 1...10_000)
        try Self.check("max-body-bytes", maximumBodyBytes, in: 1024...(1 << 31))
        try Self.check("max-frame-bytes", maximumFrameBytes, in: 1024...(1 << 31))
        try Self.check("max-streams", maximumStreams, in: 1...100_000)
        try Self.check("max-pixels", maximumPixels, in: ImageLimits.settableRange)
        try Self.check("max-decoded-pixels", maximumDecodedPixels, in: ImageLimits.settableRange)
        if let (entry, reason) = crossOrigin.invalidEntry {
            throw .invalidSetting(name: "allow-origin",
                                  expected: "an origin such as https://app.example.com (scheme, host, optional port) or *",
                                  received: "'\(entry)': \(reason)")
        }
        guard !host.isEmpty else { throw .invalidSetting(name: "host", expected: "a host name or address", received: "''") }
    }

    private static func check(_ option: String, _ value: Int, in range: ClosedRange<Int>) throws(ServerError) {
        guard range.contains(value) else {
            throw .invalidSetting(name: option, expected: "in \(range.lowerBound)...\(range.upperBound)", received: "\(value)")
        }
    }
}
