import HummingbirdCore
import NIOCore

/// A request body that asks the connection's ``ConnectionGuard`` to answer `100 Continue` before its first part is
/// read. A client that sent `Expect: 100-continue` thus sends its body once a route starts reading it, after the
/// route's checks of the headers: an upload refused from its headers alone (413, 415, 503) is answered at once and
/// its body never sent.
struct ContinuingRequestBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let base: RequestBody
    let channel: any Channel

    /// `responder` with the body of every request that carries an `Expect` header made continuing (the guard checks
    /// the expectation and the HTTP version).
    static func wrapping(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        { request, writer, channel in
            var request = request
            if request.headers[.expect] != nil {
                request.body = RequestBody(asyncSequence: ContinuingRequestBody(base: request.body, channel: channel))
            }
            try await responder(request, writer, channel)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), channel: channel)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        /// The channel to ask for `100 Continue`, until asked.
        var channel: (any Channel)?

        mutating func next() async throws -> ByteBuffer? {
            if let channel {
                self.channel = nil
                try await channel.triggerUserOutboundEvent(ConnectionGuard.ContinueEvent())
            }
            return try await base.next()
        }
    }
}
