import NIOCore
import NIOWebSocket

/// Closes a WebSocket whose client sends an unmasked frame (RFC 6455 §5.1: the server must close the connection,
/// status 1002). Sits right after NIO's frame decoder, which ``ConnectionGuard`` places it behind once the upgrade
/// is complete.
final class MaskedFrameCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let frame = unwrapInboundIn(data)
        guard frame.maskKey == nil else { return context.fireChannelRead(data) }
        closing = true
        var status = context.channel.allocator.buffer(capacity: 2)
        status.writeInteger(UInt16(1002))
        let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: status)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(close)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Adds a check after the frame decoder of `pipeline`, if the decoder is there; returns whether it was added.
    static func install(in pipeline: ChannelPipeline.SynchronousOperations) -> Bool {
        guard let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self) else {
            return false
        }
        return (try? pipeline.addHandler(MaskedFrameCheck(), position: .after(decoder.handler))) != nil
    }
}
