import Synchronization

/// A count of units held at once across all connections, against a limit: the upload bytes the server holds, or its
/// open WebSocket streams. A take that would pass the limit is refused whole (holding nothing), by a
/// compare-and-exchange, so a take that fits never sees the allowance spent by one that did not.
final class Allowance: Sendable {
    /// The most units held at once.
    let limit: Int
    private let taken = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// The units held right now.
    var held: Int { taken.load(ordering: .relaxed) }

    /// Holds `count` more units and returns true, or returns false (holding nothing) when that would pass the limit.
    func take(_ count: Int) -> Bool {
        var current = taken.load(ordering: .relaxed)
        while current + count <= limit {
            let (exchanged, original) = taken.compareExchange(expected: current, desired: current + count,
                                                              ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Gives back `count` units taken earlier.
    func give(_ count: Int) {
        taken.subtract(count, ordering: .relaxed)
    }

    /// Units taken for as long as the hold lives: given back when the last reference to it goes (a response body
    /// that captures it, whether it was sent whole or dropped with its connection).
    final class Hold: Sendable {
        private let allowance: Allowance
        let count: Int

        /// Takes `count` units of `allowance`; nil (holding nothing) when that would pass its limit.
        init?(_ count: Int, of allowance: Allowance) {
            guard allowance.take(count) else { return nil }
            self.allowance = allowance
            self.count = count
        }

        deinit { allowance.give(count) }
    }
}
