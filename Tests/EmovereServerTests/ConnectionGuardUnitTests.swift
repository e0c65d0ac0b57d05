@testable import EmovereServer
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// `ConnectionGuard` on an embedded channel, for what a live socket cannot show deterministically.
struct ConnectionGuardUnitTests {
    /// A guarded, connected embedded channel.
    static func guardedChannel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ConnectionGuard(connections: ConnectionRegistry(limit: 4), requestTimeout: .seconds(600)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    /// A client that closes its side while its request waits for a recognizer is disconnected, so the route sees an
    /// inactive channel and does not analyse the request for nobody (with a recognizer free, B was analysed for 10 s
    /// after its client left). Without a request in progress, the same event leaves the connection to its timeout.
    @Test func aClientThatClosesWhileItsRequestWaitsIsDisconnected() throws {
        let waiting = try Self.guardedChannel()
        try waiting.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST,
                                                                             uri: "/v1/analyze")))
        try waiting.writeInbound(HTTPServerRequestPart.end(nil))
        waiting.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(!waiting.isActive)

        let idle = try Self.guardedChannel()
        idle.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(idle.isActive)
        _ = try? idle.finish()
    }
}
