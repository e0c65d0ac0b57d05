import Hummingbird
import NIOCore

/// The request context of the HTTP routes: Hummingbird's basic one with the connection's channel, so a request whose
/// client closed the connection while it waited for a recognizer is not analysed for nobody.
struct ServerRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The client's connection.
    private let channel: any Channel
    /// Whether the connection was open when the request arrived (a router test's channel never is).
    private let wasConnected: Bool

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        wasConnected = source.channel.isActive
    }

    /// Whether the client has closed the connection since its request arrived.
    var clientIsGone: Bool { wasConnected && !channel.isActive }

    /// Hands `hold` to the connection's guard, which keeps it until the response the route is about to return has
    /// been sent whole, or the connection has closed.
    func keepUntilAnswered(_ hold: Allowance.Hold) async {
        do {
            try await channel.triggerUserOutboundEvent(ConnectionGuard.KeepUntilAnsweredEvent(hold: hold)).get()
        } catch {
            // Then nothing keeps it: given back as the response is returned.
            logger.debug("the connection took no hold (closed already, or no guard in its pipeline): \(error)")
        }
    }
}
