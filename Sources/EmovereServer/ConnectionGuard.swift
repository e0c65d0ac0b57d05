import NIOCore
import NIOHTTP1

/// Bounds one connection, on NIO's HTTP/1 parts right after the HTTP decoder, in place from the connection's first
/// byte (before Hummingbird decides between HTTP and a WebSocket upgrade):
///
/// - a connection beyond ``ConnectionRegistry/limit`` is answered 503 (`Retry-After: 1`) and closed;
/// - a request must arrive whole (request line, headers and body) within `requestTimeout` of the connection opening,
///   of the previous response or of its own headers: a connection that never delivered a request in time gets 408
///   and is closed, an idle keep-alive connection is closed silently, a stalled body is cut. The deadline restarts
///   when a request's headers arrive on an idle connection, when a response is queued (for a request answered before
///   its body arrived, once the body has arrived; for a pipelined request read behind it, which then has a whole
///   timeout to arrive now that its reading resumes), when it passes while a response is leaving the outgoing buffer at
///   ``minimumDrainBytesPerSecond`` or faster, and when the response has been sent whole; so a client that stops
///   reading its answer, or reads it slower than that, is cut within two timeouts (the close discards what was not
///   sent), and one that reads slowly gets the whole answer. (A pipelined request's answer that waits behind an unread
///   one is not bounded this way: only the connection limit bounds it.)
/// - a request with `Expect: 100-continue` gets `100 Continue` when its route starts reading the body (the route
///   sends a ``ContinueEvent``, see ``ContinuingRequestBody``); one answered before that (413, 415, 503) gets
///   `Connection: close` and the connection closes after the answer, as its client sends no body;
/// - a response whose body is held against a budget (an annotated picture, ``KeepUntilAnsweredEvent``) keeps its
///   hold until the response has been sent whole or the connection has closed;
/// - a client that closes its side while its request waits or is analysed has the connection closed (the request
///   then is not analysed);
/// - a request the HTTP parser rejects gets 400 (431 for oversized headers, 501 for an unknown method) and the
///   connection is closed (without a second answer when the request was already answered); a WebSocket upgrade its
///   route refused gets the route's reason (a ``RefusalEvent``: 403 for another site's page).
///
/// With `allowsAnyOrigin` (the server's ``CrossOriginPolicy`` allows every site) its own answers carry
/// `Access-Control-Allow-Origin: *`, so another site's page can read a 503's status and `Retry-After` (when the request
/// needs no preflight, or its preflight's answer is cached: a preflight refused 503 fails as CORS does). For a list of
/// sites it cannot: it answers before a request's `Origin` is known.
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
    private let allowsAnyOrigin: Bool
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
    /// Responses queued whose last byte has not been sent.
    private var responsesSending = 0
    /// The bytes waiting to be sent when the deadline last passed during a response (nil: none was being sent).
    private var bufferedAtDeadline: Int?
    /// The slowest a client may read a response being sent and keep its connection: a request timeout's worth of
    /// this many bytes must leave the buffer between two deadlines.
    static let minimumDrainBytesPerSecond = 1024

    /// No request is being read or answered: the connection waits for the next one.
    private var isIdle: Bool { requestsInProgress == 0 && !readingRequest && !closing && !upgraded }

    /// The answer a refused WebSocket upgrade gets, sent by the upgrade's route before it refuses: the upgrade
    /// handler then reports only that no route took the upgrade.
    struct RefusalEvent: Sendable {
        let error: ServerError
    }

    /// Why the route refused the connection's WebSocket upgrade, once it has.
    private var upgradeRefusal: ServerError?

    /// Asks the guard to answer `100 Continue` to the request being read, when it expects that (HTTP/1.1,
    /// `Expect: 100-continue`) and has not had it.
    struct ContinueEvent: Sendable {}

    /// Asks the guard to keep `hold` (the budget bytes of a response's body) until the next response has been sent
    /// whole, or the connection has closed.
    struct KeepUntilAnsweredEvent: Sendable {
        let hold: Allowance.Hold
    }

    /// The holds kept until the next response has been sent.
    private var keptUntilAnswered: [Allowance.Hold] = []

    init(connections: ConnectionRegistry, requestTimeout: TimeAmount, allowsAnyOrigin: Bool = false) {
        self.connections = connections
        self.requestTimeout = requestTimeout
        self.allowsAnyOrigin = allowsAnyOrigin
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        keptUntilAnswered = []  // their responses will not be sent
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadline()
        keptUntilAnswered = []
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
            // A request on an idle keep-alive connection has the whole timeout, not what is left of the idle window.
            if isIdle { armDeadline(context: context) }
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
        if case .end = unwrapInboundIn(data), requestsInProgress == 1 {
            // Hummingbird reads no more until it has answered: one read asked for here lets a client's close be seen
            // (the channel turns inactive) while its request waits, so it is not analysed for nobody. Only for a
            // request alone: one asked after every pipelined request let a client that sends requests and reads no
            // answer queue them without end.
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case HTTPServerUpgradeEvents.upgradeComplete = event {
            upgraded = true
            cancelDeadline()
        }
        if case ChannelEvent.inputClosed = event, !upgraded, !closing, !readingRequest, requestsInProgress > 0 {
            // The client closed its side while its request waits or is analysed: taken, as nginx takes it, for a
            // client that left. The connection closes, so the request is not analysed for nobody (a client that only
            // half-closes after its request gets no answer).
            close(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !upgraded else { return context.write(data, promise: promise) }
        // A request answered before it was asked for the body it announced with `Expect: 100-continue` (413, 415,
        // 503) never gets that body: its client cannot reuse the connection, which closes after the answer.
        let answeredUnasked = readingRequest && continueExpected
        switch unwrapOutboundIn(data) {
        case var .head(head) where answeredUnasked:
            head.headers.replaceOrAdd(name: "Connection", value: "close")
            return context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .head, .body:
            return context.write(data, promise: promise)
        case .end:
            break
        }
        requestsInProgress = max(0, requestsInProgress - 1)
        responsesWritten += 1
        responsesSending += 1
        // A pipelined request whose head arrived while this one was answered (the deadline stopped at this one's
        // end) must now arrive whole in time, or a client could stall its body forever.
        if isIdle || (readingRequest && deadline == nil) { armDeadline(context: context) }
        let sent = promise ?? context.eventLoop.makePromise()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let kept = keptUntilAnswered
        keptUntilAnswered = []
        sent.futureResult.whenComplete { _ in
            withExtendedLifetime(kept) {}  // sent, or the connection closed: the holds go
            let (handler, context) = loopBound.value
            handler.responsesSending -= 1
            handler.bufferedAtDeadline = nil
            if answeredUnasked, !handler.closing { return handler.close(context: context) }
            // The whole answer has left: the idle window starts now rather than when it was queued.
            if handler.isIdle, context.channel.isActive { handler.armDeadline(context: context) }
        }
        context.write(data, promise: sent)
    }


    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let refusal = event as? RefusalEvent {
            upgradeRefusal = refusal.error
            promise?.succeed(())
            return
        }
        if let keep = event as? KeepUntilAnsweredEvent {
            keptUntilAnswered.append(keep.hold)
            promise?.succeed(())
            return
        }
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
        if let upgradeRefusal { return respondAndClose(context: context, error: upgradeRefusal) }
        let failure: ServerError = switch error as? HTTPParserError {
        case .headerOverflow?: .headersTooLarge
        case .invalidMethod?: .notImplemented("unknown HTTP method: this server answers GET, HEAD and POST over plain HTTP (not TLS)")
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
        // A client reading a large answer slowly has bytes leaving the buffer between deadlines: it gets another
        // window; one that stopped reading, or reads slower than the minimum, does not. (A channel without the option
        // cannot tell: the client is cut.)
        let seconds = Int(requestTimeout.nanoseconds / 1_000_000_000)
        if responsesSending > 0, isIdle,
           let buffered = try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes),
           buffered <= (bufferedAtDeadline ?? .max) - Self.minimumDrainBytesPerSecond * max(1, seconds) {
            bufferedAtDeadline = buffered
            return armDeadline(context: context)
        }
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
                                   ("Content-Length", String(body.count)), ("Connection", "close"),
                                   ("X-Content-Type-Options", "nosniff")])
        if error.status == .serviceUnavailable { headers.add(name: "Retry-After", value: "1") }
        if allowsAnyOrigin {
            headers.add(name: "Access-Control-Allow-Origin", value: "*")
            headers.add(name: "Access-Control-Expose-Headers", value: CrossOriginPolicy.exposedHeaders)
        }
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
