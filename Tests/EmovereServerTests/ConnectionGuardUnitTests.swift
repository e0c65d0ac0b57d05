@testable import EmovereServer
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// `ConnectionGuard` on an embedded channel, for what a live socket cannot show deterministically.
struct ConnectionGuardUnitTests {
    /// A guarded, connected embedded channel.
    static func guardedChannel(requestTimeout: TimeAmount = .seconds(600)) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ConnectionGuard(connections: ConnectionRegistry(limit: 4), requestTimeout: requestTimeout))
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

    /// A request that announced its body with `Expect: 100-continue` and is answered before it was asked for it
    /// gets `Connection: close` and the connection closes (the client sends no body: the server waited for it until the
    /// request timeout, and a client reusing the connection had its next request read as that body).
    @Test func aRequestAnsweredBeforeItsExpectedBodyClosesTheConnection() throws {
        let channel = try Self.guardedChannel()
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(
            version: .http1_1, method: .POST, uri: "/v1/analyze",
            headers: ["Content-Length": "1000", "Expect": "100-continue", "Content-Type": "text/plain"])))
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(
            version: .http1_1, status: .unsupportedMediaType, headers: ["Content-Length": "0"])))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        guard case let .head(head)? = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no response head")
            return
        }
        #expect(head.headers["Connection"] == ["close"])
        #expect(!channel.isActive)
    }

    /// A hold handed to the guard lasts until the next response has been sent whole, or until the connection closes
    /// without it.
    @Test func aHoldLastsUntilTheResponseIsSent() throws {
        let budget = Allowance(limit: 100)
        for sendsResponse in [true, false] {
            let channel = try Self.guardedChannel()
            try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST,
                                                                                 uri: "/v1/analyze?annotate=1")))
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
            try channel.pipeline.triggerUserOutboundEvent(
                ConnectionGuard.KeepUntilAnsweredEvent(hold: try #require(Allowance.Hold(60, of: budget)))).wait()
            #expect(budget.held == 60)
            if sendsResponse {
                try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
                #expect(budget.held == 60)
                try channel.writeOutbound(HTTPServerResponsePart.end(nil))
                _ = try? channel.finish()
            } else {
                try channel.close().wait()
            }
            #expect(budget.held == 0, sendsResponse ? "after the response" : "after the close")
        }
    }

    /// A pipelined request whose body stalls is cut a request timeout after the request before it was answered
    /// (its deadline once stopped with that request's end and never started again); while that answer is pending
    /// (NIO then reads no more of the connection) it waits.
    @Test func aPipelinedRequestWhoseBodyStallsIsCut() throws {
        let channel = try Self.guardedChannel(requestTimeout: .seconds(10))
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET,
                                                                             uri: "/healthz")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(
            version: .http1_1, method: .POST, uri: "/v1/analyze", headers: ["Content-Length": "1000"])))
        channel.embeddedEventLoop.advanceTime(by: .seconds(30))
        #expect(channel.isActive)
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }
}
