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
    /// The largest accepted request body (and WebSocket frame), in bytes; larger ones get 413.
    public var maximumBodyBytes: Int
    /// The largest accepted image, in pixels (`width * height`, read from the header before decoding); larger
    /// ones get 413.
    public var maximumPixels: Int

    /// A configuration; `maximumConcurrentAnalyses` defaults to the number of active cores.
    public init(host: String = "127.0.0.1", port: Int = 8080,
                maximumConcurrentAnalyses: Int = ProcessInfo.processInfo.activeProcessorCount,
                maximumWaitingAnalyses: Int = 32,
                maximumBodyBytes: Int = 10 * 1024 * 1024,
                maximumPixels: Int = 40_000_000) {
        self.host = host
        self.port = port
        self.maximumConcurrentAnalyses = maximumConcurrentAnalyses
        self.maximumWaitingAnalyses = maximumWaitingAnalyses
        self.maximumBodyBytes = maximumBodyBytes
        self.maximumPixels = maximumPixels
    }

    /// Throws ``ServerError/invalidConfiguration(_:)`` naming the first setting out of range.
    public func validate() throws(ServerError) {
        guard (0...65535).contains(port) else {
            throw .invalidConfiguration("port must be in 0...65535, received \(port)")
        }
        guard maximumConcurrentAnalyses >= 1 else {
            throw .invalidConfiguration("max-concurrent must be at least 1, received \(maximumConcurrentAnalyses)")
        }
        guard maximumWaitingAnalyses >= 0 else {
            throw .invalidConfiguration("max-waiting must be 0 or more, received \(maximumWaitingAnalyses)")
        }
        guard maximumBodyBytes >= 1024 else {
            throw .invalidConfiguration("max-body-bytes must be at least 1024, received \(maximumBodyBytes)")
        }
        guard maximumPixels >= 1 else {
            throw .invalidConfiguration("max-pixels must be at least 1, received \(maximumPixels)")
        }
        guard !host.isEmpty else { throw .invalidConfiguration("host must not be empty") }
    }
}
