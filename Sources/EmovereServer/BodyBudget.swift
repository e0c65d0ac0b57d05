import Synchronization

/// The bytes of request bodies the server holds at once, across all requests, and their limit: a request whose
/// next chunk would pass the limit is refused with ``ServerError/uploadsOverloaded(limit:)`` rather than held.
///
/// The limit is one full body for each analysis that may run or wait (`(capacity + waiting) * maximumBodyBytes`),
/// so uploads that the recognizers could not take anyway cannot add up to `maximumConnections` bodies in memory.
/// Bytes count as they arrive, so a slow upload holds only what it has sent (an upload without a declared length
/// grows its array by doubling, so it may briefly use up to twice what it counts).
final class BodyBudget: Sendable {
    /// The most body bytes held at once.
    let limit: Int
    private let held = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// The body bytes held right now.
    var heldBytes: Int { held.load(ordering: .relaxed) }

    /// Holds `count` more bytes, or throws ``ServerError/uploadsOverloaded(limit:)`` (holding nothing) when that
    /// would pass the limit.
    func take(_ count: Int) throws(ServerError) {
        // Compare and exchange: an upload that does not fit never counts, even for a moment (an add then subtract
        // could make another upload that fits see the budget spent).
        var current = held.load(ordering: .relaxed)
        while true {
            guard current + count <= limit else { throw .uploadsOverloaded(limit: limit) }
            let (exchanged, original) = held.compareExchange(expected: current, desired: current + count,
                                                             ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// Gives back `count` bytes taken earlier.
    func give(_ count: Int) {
        held.subtract(count, ordering: .relaxed)
    }
}
