import Synchronization

/// Whether the server still takes new work: once a stop signal has arrived, `GET /healthz` answers 503
/// (`"status":"stopping"`) while every request is still served, so a load balancer's health check takes the replica
/// out of rotation before it stops listening.
final class Readiness: Sendable {
    private let stopping = Mutex(false)

    /// True from the stop signal on.
    var isStopping: Bool { stopping.withLock { $0 } }

    /// Marks the server as stopping; `GET /healthz` answers 503 from now on.
    func markStopping() {
        stopping.withLock { $0 = true }
    }
}
