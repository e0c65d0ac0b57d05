import NIOCore
import Synchronization

/// The open connections of one server: counted against its limit by every connection's ``ConnectionGuard``, and
/// closed all at once when the drain deadline after a stop signal has passed.
final class ConnectionRegistry: Sendable {
    /// The most connections open at once.
    let limit: Int
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// Connections open now.
    var count: Int { open.withLock { $0.count } }

    /// Records `channel` until it closes and returns true, or returns false (recording nothing) when `limit`
    /// connections are open.
    func admit(_ channel: any Channel) -> Bool {
        let key = ObjectIdentifier(channel)
        let admitted = open.withLock { open in
            guard open.count < limit else { return false }
            open[key] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [self] _ in _ = open.withLock { $0.removeValue(forKey: key) } }
        }
        return admitted
    }

    /// Closes every open connection.
    func closeAll() {
        for channel in open.withLock({ Array($0.values) }) { channel.closeInputFirst() }
    }
}
