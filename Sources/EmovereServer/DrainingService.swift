import Hummingbird
import Logging
import ServiceLifecycle

/// Runs the application as a service; on graceful shutdown (SIGTERM, SIGINT) the application stops listening and
/// finishes its requests, and once `drain` has passed every connection still open (a silent client, a stalled
/// upload, a WebSocket stream) is closed, so the service returns.
struct DrainingService<Application: ApplicationProtocol>: Service {
    let application: Application
    let connections: ConnectionRegistry
    let drain: Duration
    let logger: Logger

    func run() async throws {
        let (stopped, stop) = AsyncStream.makeStream(of: Void.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Waits for the stop signal, then for the drain deadline (or for the application to end first).
                var signals = stopped.makeAsyncIterator()
                guard await signals.next() != nil else { return }
                do {
                    try await Task.sleep(for: drain)
                } catch {
                    return  // cancelled: the application ended before the deadline
                }
                let open = connections.count
                if open > 0 {
                    logger.warning("closing \(open) connections still open \(drain) after the stop signal")
                    connections.closeAll()
                }
            }
            defer { stop.finish() }
            do {
                try await withGracefulShutdownHandler {
                    try await application.run()
                } onGracefulShutdown: {
                    stop.yield()
                }
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }
}
