import NIOCore
import NIOHTTP1

/// Bounds one connection, on NIO's HTTP/1 parts right after the HTTP decoder, in place from the connection's first
/// byte (before Hummingbird decides between HTTP and a WebSocket upgrade):
///
/// - a connection beyond ``ConnectionRegistry/limit`` is answered 503 (`Retry-After: 1`) and closed;
/// - a request must arrive whole (request line, headers and body) within `requestTimeout` of the connection opening
///   or of the previous response: a connection that never delivered a request in time gets 408 and is closed, an
///   idle keep-alive connection is closed silently, a stalled body is cut; the deadline restarts once a response is
///   written to the channel (for a request answered before its body arrived, once the body has arrived), so a
///   client that never reads its answer is also cut then (the close discards what was not sent);
/// - a request with `Expect: 100-continue` gets `100 Continue` when its route starts reading the body (the route
///   sends a ``ContinueEvent``, see ``ContinuingRequestBody``);
/// - a request the HTTP parser rejects gets 400 (431 for oversized headers, 501 for an unknown method) and the
///   connection is closed (without a second answer when the request was already answered).
///
/// After a WebSocket upgrade the guard passes the bytes through, adds a ``MaskedFrameCheck`` behind the frame decoder,
/// and the connection stays counted until it closes.
final class ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let connections: ConnectionRegistry
    private let requestTimeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var started = false
    private var closing = false
    private var upgraded = false
    private var checksMasks = false
    /// A request head has arrived and its end has not.
    private var readingRequest = false
    /// Requests whose head has arrived and whose response has not been written completely.
    private var requestsInProgress = 0
    private var responsesWritten = 0
    /// The request being read expects `100 Continue` before it sends its body, and has not had it.
    private var continueExpected = false

    /// Asks the guard to answer `100 Continue` to the request being read, when it expects that (HTTP/1.1,
    /// `Expect: 100-continue`) and has not had it.
    struct ContinueEvent: Sendable {}

    init(connections: ConnectionRegistry, requestTimeout: TimeAmount) {
        self.connections = connections
        self.requestTimeout = requestTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadline()
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        guard connections.admit(context.channel) else {
            respondAndClose(context: context, error: .tooManyConnections(limit: connections.limit))
            return
        }
        armDeadline(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !upgraded else {
            // The frame decoder is in the pipeline by the first WebSocket bytes.
            if !checksMasks { checksMasks = MaskedFrameCheck.install(in: context.pipeline.syncOperations) }
            return context.fireChannelRead(data)
        }
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case let .head(head):
            readingRequest = true
            requestsInProgress += 1
            continueExpected = head.version == .http1_1
                && head.headers["expect"].contains { $0.lowercased() == "100-continue" }
        case .body:
            break
        case .end:
            readingRequest = false
            // Answered before its body arrived, the connection is idle from here: its deadline starts again.
            if requestsInProgress == 0 { armDeadline(context: context) } else { cancelDeadline() }
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case HTTPServerUpgradeEvents.upgradeComplete = event {
            upgraded = true
            cancelDeadline()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !upgraded, case .end = unwrapOutboundIn(data) {
            requestsInProgress = max(0, requestsInProgress - 1)
            responsesWritten += 1
            if requestsInProgress == 0, !readingRequest, !closing { armDeadline(context: context) }
        }
        context.write(data, promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is ContinueEvent else { return context.triggerUserOutboundEvent(event, promise: promise) }
        guard continueExpected, readingRequest, !closing else {
            promise?.succeed(())
            return
        }
        continueExpected = false
        let head = HTTPResponseHead(version: .http1_1, status: .continue)
        context.writeAndFlush(wrapOutboundOut(.head(head)), promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !upgraded else { return context.fireErrorCaught(error) }
        guard !closing else { return }
        guard requestsInProgress == 0 else {
            // Hummingbird is handling this request: let its body read fail, and close the connection.
            context.fireErrorCaught(error)
            return close(context: context)
        }
        // A request answered before its body arrived gets no second answer.
        guard !readingRequest else { return close(context: context) }
        let failure: ServerError = switch error as? HTTPParserError {
        case .headerOverflow?: .headersTooLarge
        case .invalidMethod?: .notImplemented("unknown HTTP method: this server answers GET, HEAD and POST")
        case let parserError?: .malformedRequest("malformed HTTP/1.1 request (\(parserError))")
        case nil: .malformedRequest("malformed HTTP/1.1 request (\(error))")
        }
        respondAndClose(context: context, error: failure)
    }

    private func armDeadline(context: ChannelHandlerContext) {
        cancelDeadline()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: requestTimeout) {
            let (handler, context) = loopBound.value
            handler.deadlinePassed(context: context)
        }
    }

    private func cancelDeadline() {
        deadline?.cancel()
        deadline = nil
    }

    private func deadlinePassed(context: ChannelHandlerContext) {
        deadline = nil
        guard !closing, !upgraded else { return }
        if requestsInProgress == 0, responsesWritten == 0 {
            respondAndClose(context: context,
                            error: .requestTimeout(seconds: Int(requestTimeout.nanoseconds / 1_000_000_000)))
        } else {
            // An idle keep-alive connection (a 408 there could be taken for the answer to a request in transit), or a
            // request whose body stalled.
            close(context: context)
        }
    }

    private func close(context: ChannelHandlerContext) {
        closing = true
        cancelDeadline()
        context.channel.closeInputFirst()
    }

    private func respondAndClose(context: ChannelHandlerContext, error: ServerError) {
        closing = true
        cancelDeadline()
        let body = error.jsonBody
        var headers = HTTPHeaders([("Content-Type", "application/json; charset=utf-8"),
                                   ("Content-Length", String(body.count)), ("Connection", "close")])
        if error.status == .serviceUnavailable { headers.add(name: "Retry-After", value: "1") }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: Int(error.status.code)),
                                    headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.closeInputFirst() }
    }
}

extension Channel {
    /// Closes the connection, its input first. NIO announces the closed input as `ChannelEvent.inputClosed`, which a
    /// WebSocket upgrade handler still waiting for a first request takes as a quiet end (a plain close fails its
    /// upgrade, and hummingbird-websocket logs an error for every connection refused or timed out).
    func closeInputFirst() {
        close(mode: .input, promise: nil)
        close(promise: nil)
    }
}
