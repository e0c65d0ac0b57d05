import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of the WebSocket upgrade (`/v1/stream`): Hummingbird's basic one with the connection's
/// channel, so a refused upgrade can tell the connection's ``ConnectionGuard`` why.
struct StreamRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    /// The client's connection.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }

    /// Hands `error` to the connection's guard, which answers it (instead of the 400 a refused upgrade otherwise
    /// gets) and closes the connection, and returns it for the route to throw (refusing the upgrade).
    func refuseUpgrade(_ error: ServerError) async -> ServerError {
        // Outbound events pass the guard before the upgrade handler reports the refusal inbound.
        do {
            try await channel.triggerUserOutboundEvent(ConnectionGuard.RefusalEvent(error: error)).get()
        } catch {
            logger.debug("the refusal of a stream could not reach its connection, closed already: \(error)")
        }
        return error
    }
}
