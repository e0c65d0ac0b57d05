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

    /// Refuses the upgrade with `error`: the connection's guard answers it (instead of the 400 a refused upgrade
    /// otherwise gets) and closes the connection.
    func refuseUpgrade(_ error: ServerError) async -> RouterShouldUpgrade {
        // Outbound events pass the guard before the upgrade handler reports the refusal inbound.
        try? await channel.triggerUserOutboundEvent(ConnectionGuard.RefusalEvent(error: error)).get()
        return .dontUpgrade
    }
}
