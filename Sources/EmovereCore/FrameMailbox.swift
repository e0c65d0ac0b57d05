import Dispatch
import Synchronization

/// The one hand-over of frames from a producer (a video reader thread, a WebSocket) to the one consumer that
/// analyses them. `.newest` (live sources): a frame put before the previous one was taken replaces it and is
/// counted as dropped, so the consumer always gets the newest. `.every` (files): the producer waits until the
/// consumer took the previous frame. The consumer polls with `take()` or blocks in `next()`.
public final class FrameMailbox<Frame: Sendable, Failure: Error & Sendable>: Sendable {
    /// What happens to a frame not yet taken when the next one arrives.
    public enum Policy: Sendable {
        /// The new frame replaces it (counted in `dropped`).
        case newest
        /// The producer waits until it is taken.
        case every
    }

    /// A frame and where it stands in the stream.
    public struct Delivery: Sendable {
        public var frame: Frame
        /// 1 for the first frame put.
        public var number: Int
        /// Frames this one replaced (directly or through the ones it replaced) since the previous delivery.
        public var dropped: Int
        /// When it was put.
        public var arrival: ContinuousClock.Instant
    }

    private struct State {
        var pending: Delivery?
        var received = 0
        var dropped = 0
        var ended = false
        var closed = false
        var failure: Failure?
        var consumerWaits = false
        var producerWaits = false

        /// Whether the consumer announced a wait, clearing the announcement (the caller then signals once).
        mutating func takeConsumerWait() -> Bool {
            defer { consumerWaits = false }
            return consumerWaits
        }

        /// Whether the producer announced a wait, clearing the announcement (the caller then signals once).
        mutating func takeProducerWait() -> Bool {
            defer { producerWaits = false }
            return producerWaits
        }
    }

    /// What `next()` does after looking at the state.
    private enum Step {
        case deliver(Delivery, wakeProducer: Bool)
        case end(Failure?)
        case wait
    }

    private let policy: Policy
    private let state = Mutex(State())
    // Each is signalled exactly once per wait announced under the mutex, so no wake-up is lost or left over.
    private let consumerWake = DispatchSemaphore(value: 0)
    private let producerWake = DispatchSemaphore(value: 0)

    public init(policy: Policy) {
        self.policy = policy
    }

    /// Frames replaced before they were taken, in all.
    public var dropped: Int { state.withLock { $0.dropped } }

    /// Whether the consumer closed the mailbox.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Hands `frame` over (with `.every`, after the previous one was taken); false once the consumer closed.
    @discardableResult
    public func put(_ frame: Frame) -> Bool {
        while true {
            let (accepted, wakeConsumer) = state.withLock { state -> (Bool?, Bool) in
                if state.closed { return (false, false) }
                if state.pending != nil && policy == .every {
                    state.producerWaits = true
                    return (nil, false)
                }
                state.received += 1
                let replaced = state.pending.map { $0.dropped + 1 } ?? 0
                if state.pending != nil { state.dropped += 1 }
                state.pending = Delivery(frame: frame, number: state.received, dropped: replaced, arrival: .now)
                return (true, state.takeConsumerWait())
            }
            if wakeConsumer { consumerWake.signal() }
            guard let accepted else {
                producerWake.wait()
                continue
            }
            return accepted
        }
    }

    /// The waiting frame, if any, without blocking.
    public func take() -> Delivery? {
        let (delivery, wakeProducer) = state.withLock { state -> (Delivery?, Bool) in
            defer { state.pending = nil }
            return (state.pending, state.takeProducerWait())
        }
        if wakeProducer { producerWake.signal() }
        return delivery
    }

    /// The next frame, waiting for it; nil once the producer finished (or the consumer closed) and nothing waits.
    /// - Throws: the error the producer finished with.
    public func next() throws(Failure) -> Delivery? {
        while true {
            let step = state.withLock { state -> Step in
                if let delivery = state.pending {
                    state.pending = nil
                    return .deliver(delivery, wakeProducer: state.takeProducerWait())
                }
                if state.ended || state.closed { return .end(state.failure) }
                state.consumerWaits = true
                return .wait
            }
            switch step {
            case let .deliver(delivery, wakeProducer):
                if wakeProducer { producerWake.signal() }
                return delivery
            case let .end(failure):
                if let failure { throw failure }
                return nil
            case .wait:
                consumerWake.wait()  // the one signal for this announced wait
            }
        }
    }

    /// The producer stopped: at the end of its input, or with `failure`.
    public func finish(failure: Failure? = nil) {
        let wake = state.withLock { state in
            state.ended = true
            state.failure = failure
            return state.takeConsumerWait()
        }
        if wake { consumerWake.signal() }
    }

    /// The consumer stopped: a waiting frame is discarded and the producer's next `put` returns false.
    public func close() {
        let (wakeConsumer, wakeProducer) = state.withLock { state in
            state.closed = true
            state.pending = nil
            return (state.takeConsumerWait(), state.takeProducerWait())
        }
        if wakeConsumer { consumerWake.signal() }
        if wakeProducer { producerWake.signal() }
    }
}
