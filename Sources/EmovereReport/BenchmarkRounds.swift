import Foundation

/// The figures of several rounds of one `emovere bench` run, each round measuring each of Emovere's figures right
/// beside its peer's (ONNX Runtime, Keras). On a shared or noisy machine both programs' rates move between rounds and
/// their ratio much less, so the summary gives the median rate and the median of the per-round ratios.
public struct BenchmarkRounds {
    /// One figure over the rounds: Emovere's images/s in each round and the peer's in the same rounds (nil in a round
    /// where it did not run: a time-out, a crash).
    public struct Series: Sendable {
        public var name: String
        public var rates: [Double] = []
        public var peer: String?
        public var peerRates: [Double?] = []

        /// Emovere's rate over the peer's in each round the peer ran.
        public var ratios: [Double] {
            zip(rates, peerRates).compactMap { rate, peerRate in peerRate.map { rate / $0 } }
        }
    }

    public private(set) var series: [Series] = []

    public init() {}

    /// Records one figure of a round: Emovere's `rate` for `name` (images/s) and, where it has one, the `peer`'s rate
    /// in the same round (nil: it did not run this round).
    public mutating func record(name: String, rate: Double, peer: (name: String, rate: Double?)? = nil) {
        let index = series.firstIndex { $0.name == name } ?? {
            series.append(Series(name: name))
            return series.count - 1
        }()
        if let peer { series[index].peer = peer.name }
        series[index].rates.append(rate)
        series[index].peerRates.append(peer?.rate)
    }

    /// The middle value of `values` (the mean of the two middle ones for an even count); nil when empty.
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }

    /// One line per figure: the median rate, then the peer's median rate and the median of the per-round ratios with
    /// every round's ratio ("-" for a round the peer did not run, and how many it ran).
    public var summary: [String] {
        series.map { figure in
            let rate = Self.median(figure.rates) ?? 0
            var line = String(format: "%-40@ %10.0f images/s  median of %d", figure.name as NSString, rate,
                              figure.rates.count)
            let peerRates = figure.peerRates.compactMap { $0 }
            if let peer = figure.peer, peerRates.isEmpty {
                line += "; \(peer) ran in none of them"
            } else if let peer = figure.peer, let peerRate = Self.median(peerRates), let ratio = Self.median(figure.ratios) {
                let rounds = zip(figure.rates, figure.peerRates).map { rate, peerRate in
                    peerRate.map { String(format: "%.2f", rate / $0) } ?? "-"
                }.joined(separator: " ")
                let ran = peerRates.count < figure.rates.count ? "; \(peer) ran \(peerRates.count) of them" : ""
                line += String(format: "; %@ %.0f; ratio %.2f (rounds: %@%@)", peer as NSString, peerRate, ratio,
                               rounds as NSString, ran as NSString)
            }
            return line
        }
    }
}
