import Logging
import ServiceLifecycle

/// The service that hears a stop signal first (a service group shuts its services down in reverse order): it marks
/// the server as stopping, so `GET /healthz` answers 503, and returns after `delay`; only then does the group pass
/// the signal on to the application, which stops listening and drains. Without the pause a load balancer may hand a
/// request to a replica in the instant it closes its listening socket, and a request whose body is too large to
/// buffer cannot be retried elsewhere.
struct UnreadyService: Service {
    let readiness: Readiness
    let delay: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch is CancellationError {
            return  // the application ended (it failed to start, say) before any stop signal
        }
        readiness.markStopping()
        logger.info("stop signal: /healthz answers 503 for \(delay), then the server stops listening and drains")
        do {
            try await Task.sleep(for: delay)
        } catch is CancellationError {
            return  // the group is being torn down: nothing left to wait for
        }
    }
}
