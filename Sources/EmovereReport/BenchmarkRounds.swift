import Foundation

/// The figures of several rounds of one `emovere bench` run, each round measuring each of Emovere's figures right
/// beside its peer's (ONNX Runtime, Keras). On a shared or noisy machine both programs' rates move between rounds and
/// their ratio much less, so the summary gives the median rate and the median of the per-round ratios.
public struct BenchmarkRounds {
    /// One figure over the rounds: Emovere's images/s in each round and, where a peer ran in every round, its own.
    public struct Series: Sendable {
        public var name: String
        public var rates: [Double] = []
        public var peer: String?
        public var peerRates: [Double] = []

        /// Emovere's rate over the peer's, round by round (empty unless the peer ran in every round).
        public var ratios: [Double] {
            peerRates.count == rates.count ? zip(rates, peerRates).map { $0 / $1 } : []
        }
    }

    public private(set) var series: [Series] = []

    public init() {}

    /// Records one figure of a round: Emovere's `rate` for `name` (images/s) and, if it ran, the `peer`'s rate in
    /// the same round.
    public mutating func record(name: String, rate: Double, peer: (name: String, rate: Double)? = nil) {
        let index = series.firstIndex { $0.name == name } ?? {
            series.append(Series(name: name, peer: peer?.name))
            return series.count - 1
        }()
        series[index].rates.append(rate)
        if let peer { series[index].peerRates.append(peer.rate) }
    }

    /// The middle value of `values` (the mean of the two middle ones for an even count); nil when empty.
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }

    /// One line per figure: the median rate, then the peer's median rate and the median of the per-round ratios with
    /// every round's ratio.
    public var summary: [String] {
        series.map { figure in
            let rate = Self.median(figure.rates) ?? 0
            var line = String(format: "%-40@ %10.0f images/s  median of %d", figure.name as NSString, rate,
                              figure.rates.count)
            if let peer = figure.peer, let peerRate = Self.median(figure.peerRates), let ratio = Self.median(figure.ratios) {
                let rounds = figure.ratios.map { String(format: "%.2f", $0) }.joined(separator: " ")
                line += String(format: "; %@ %.0f; ratio %.2f (rounds: %@)", peer as NSString, peerRate, ratio,
                               rounds as NSString)
            }
            return line
        }
    }
}
