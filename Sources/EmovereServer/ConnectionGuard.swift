import NIOCore
import NIOHTTP1

/// Bounds one connection, on NIO's HTTP/1 parts right after the HTTP decoder, in place from the connection's first
/// byte (before Hummingbird decides between HTTP and a WebSocket upgrade):
///
/// - a connection beyond ``ConnectionRegistry/limit`` is answered 503 (`Retry-After: 1`) and closed;
/// - a request must arrive whole (request line, headers and body) within `requestTimeout` of the connection opening
///   or of the previous response: a connection that never delivered a request in time gets 408 and is closed, an
///   idle keep-alive connection is closed silently, a stalled body is cut; the deadline restarts once a response is
///   written to the channel, so a client that never reads its answer is also cut then (the close discards what
///   was not sent);
/// - a request the HTTP parser rejects gets 400 (431 for oversized headers, 501 for an unknown method) and the
///   connection is closed.
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
        case .head:
            readingRequest = true
            requestsInProgress += 1
        case .body:
            break
        case .end:
            readingRequest = false
            cancelDeadline()
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

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !upgraded else { return context.fireErrorCaught(error) }
        guard !closing else { return }
        guard requestsInProgress == 0 else {
            // Hummingbird is handling this request: let its body read fail, and close the connection.
            context.fireErrorCaught(error)
            closing = true
            context.close(promise: nil)
            return
        }
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
            closing = true
            context.close(promise: nil)
        }
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
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
