import Dispatch
import Emovere
import EmovereCore
import EmovereNN
import EmovereTensor
import EmovereVision
import Foundation
import Synchronization

/// A fixed set of recognizers shared by all requests: one recognizer serves one analysis at a time (it holds
/// per-call buffers), so the pool's size is the number of analyses that run in parallel.
///
/// A request takes an idle recognizer, or waits in a bounded list for one; when the list is full it is refused
/// at once with ``ServerError/overloaded(running:waiting:)`` instead of queueing without bound. The analysis itself
/// runs on a Dispatch thread, so CPU-bound work never blocks Swift concurrency's cooperative threads.
public final class RecognizerPool: @unchecked Sendable {
    /// The number of recognizers (analyses that run in parallel).
    public let capacity: Int
    /// How many requests may wait for a recognizer.
    public let maximumWaiting: Int
    /// The model card shared by every recognizer.
    public let card: ModelCard
    /// The face detector every recognizer uses.
    public let detector: DetectorDescription
    /// The arithmetic of the recognizers' models (`InferenceModel.precision`; float32 for any other classifier).
    public let precision: Precision

    private let recognizers: [EmotionRecognizer]
    private let state: Mutex<State>

    /// The idle recognizers (indices) and the requests waiting for one, in arrival order.
    private struct State {
        var idle: [Int]
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Int, any Error>)] = []
        var nextWaiterID: UInt64 = 0

        /// The refusal of a request arriving now (every recognizer busy, the waiting list full), or nil.
        func refusal(capacity: Int, maximumWaiting: Int) -> ServerError? {
            guard idle.isEmpty, waiters.count >= maximumWaiting else { return nil }
            return .overloaded(running: capacity - idle.count, waiting: waiters.count)
        }
    }

    /// A pool of `recognizers` (at least one, all with the same card) admitting `maximumWaiting` waiting requests.
    public init(recognizers: [EmotionRecognizer], maximumWaiting: Int) {
        precondition(!recognizers.isEmpty, "a recognizer pool needs at least one recognizer")
        self.recognizers = recognizers
        self.capacity = recognizers.count
        self.maximumWaiting = max(0, maximumWaiting)
        self.card = recognizers[0].card
        self.detector = recognizers[0].detector.description
        precision = (recognizers[0].model as? InferenceModel)?.precision ?? .float32
        state = Mutex(State(idle: Array(recognizers.indices.reversed())))
    }

    /// The number of recognizers in use and of requests waiting for one, right now.
    public var occupancy: (running: Int, waiting: Int) {
        state.withLock { (capacity - $0.idle.count, $0.waiters.count) }
    }

    /// Throws ``ServerError/overloaded(running:waiting:)`` when a request arriving now would be refused, so a route
    /// can refuse before it reads a large body (the room may still be gone by the time it asks for a recognizer).
    public func checkRoom() throws(ServerError) {
        if let refusal = state.withLock({ $0.refusal(capacity: capacity, maximumWaiting: maximumWaiting) }) {
            throw refusal
        }
    }

    /// Runs `body` with a recognizer of its own on a Dispatch thread and returns its result, unless `isWanted` says
    /// otherwise (the client went away): checked every ``wantedCheckInterval`` while the request waits, so a gone
    /// client's waiting place is given up at once rather than when a recognizer frees up, and again once it has one.
    /// - Throws: ``ServerError/overloaded(running:waiting:)`` when every recognizer is busy and the waiting list
    ///   is full, `CancellationError` when the task is cancelled while waiting,
    ///   ``ServerError/clientClosedRequest`` when the work is no longer wanted, or what `body` throws.
    public func withRecognizer<Value: Sendable>(
        isWanted: @escaping @Sendable () -> Bool = { true },
        _ body: @escaping @Sendable (EmotionRecognizer) throws -> Value
    ) async throws -> Value {
        let index = try await acquire(whileWanted: isWanted)
        defer { release(index) }
        guard isWanted() else { throw ServerError.clientClosedRequest }
        let recognizer = UnsafeSendable(recognizers[index])  // the pool hands this recognizer to this work item alone
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try body(recognizer.value) })
            }
        }
    }

    /// How often a waiting request checks that it is still wanted.
    static var wantedCheckInterval: Duration { .milliseconds(250) }

    /// A recognizer's index: an idle one at once, else one waited for while `isWanted` holds.
    private func acquire(whileWanted isWanted: @escaping @Sendable () -> Bool) async throws -> Int {
        if let index = state.withLock({ $0.idle.popLast() }) { return index }
        return try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask { try await self.waitForRecognizer() }
            group.addTask {
                while isWanted() { try await Task.sleep(for: Self.wantedCheckInterval) }
                return nil  // no longer wanted
            }
            let first = await group.nextResult()
            group.cancelAll()
            // The other task ends too; a recognizer it got all the same goes back.
            while let other = await group.nextResult() {
                if case let .success(index?) = other { release(index) }
            }
            guard let index = try first?.get() else { throw ServerError.clientClosedRequest }
            return index
        }
    }

    /// A recognizer's index, waited for in the list (refused when the list is full, left when the task is cancelled).
    private func waitForRecognizer() async throws -> Int {
        if let index = state.withLock({ $0.idle.popLast() }) { return index }
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                // Decided under the lock, resumed after it.
                let outcome = state.withLock { state -> Result<Int, any Error>? in
                    if let index = state.idle.popLast() { return .success(index) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let refusal = state.refusal(capacity: capacity, maximumWaiting: maximumWaiting) {
                        return .failure(refusal)
                    }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> CheckedContinuation<Int, any Error>? in
                guard let position = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: position).continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    private func release(_ index: Int) {
        let next = state.withLock { state -> CheckedContinuation<Int, any Error>? in
            if state.waiters.isEmpty {
                state.idle.append(index)
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume(returning: index)
    }
}
