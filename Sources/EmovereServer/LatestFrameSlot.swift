import Synchronization

/// The newest frame received and not yet analysed, with the number of frames it replaced, and when the client last
/// sent a message.
final class LatestFrameSlot: Sendable {
    /// A frame waiting for analysis.
    struct Frame: Sendable {
        var bytes: [UInt8]
        /// 1 for the first frame of the connection.
        var number: Int
        /// Frames replaced by this one (or by the ones it replaced) before any was analysed.
        var dropped: Int
    }

    private struct State {
        var waiting: Frame?
        var received = 0
        var lastMessage = ContinuousClock.now
    }

    private let state = Mutex(State())

    /// When the last message (frame or not) arrived, or when the slot was made.
    var lastMessage: ContinuousClock.Instant { state.withLock { $0.lastMessage } }

    /// Stores `bytes` as the newest frame, dropping the one waiting, if any.
    func put(_ bytes: [UInt8]) {
        state.withLock { state in
            state.received += 1
            state.lastMessage = .now
            state.waiting = Frame(bytes: bytes, number: state.received,
                                  dropped: state.waiting.map { $0.dropped + 1 } ?? 0)
        }
    }

    /// Records a message that is not a frame.
    func noteMessage() {
        state.withLock { $0.lastMessage = .now }
    }

    /// Takes the waiting frame, if any.
    func take() -> Frame? {
        state.withLock { state in
            defer { state.waiting = nil }
            return state.waiting
        }
    }
}
