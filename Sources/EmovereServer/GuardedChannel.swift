import HummingbirdCore
import Logging
import NIOCore

/// A Hummingbird child channel with a ``ConnectionGuard`` added to each connection's pipeline after `inner` set
/// it up (`allowsAnyOrigin`: its answers carry `Access-Control-Allow-Origin: *`).
struct GuardedChannel<Inner: ServerChildChannel>: ServerChildChannel {
    let inner: Inner
    let connections: ConnectionRegistry
    let requestTimeout: TimeAmount
    let allowsAnyOrigin: Bool

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Inner.Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.pipeline.syncOperations.addHandler(
                ConnectionGuard(connections: connections, requestTimeout: requestTimeout, allowsAnyOrigin: allowsAnyOrigin))
            return value
        }
    }

    func handle(value: Inner.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
