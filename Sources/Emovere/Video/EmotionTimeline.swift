import EmovereData

/// Each track's emotion probabilities over time, kept in bounded memory for plotting.
///
/// Frames are averaged into time bins of a common width. While the video so far spans at most `capacity` bins the
/// width stays one frame; when it would need more, the width doubles and neighbouring bins merge. So each track
/// has at most `capacity` points however long the video is (a track present throughout between `capacity / 2`
/// and `capacity`), and memory grows with the faces seen at once and the number of tracks, not with the frames:
/// many short tracks (faces turning away, a crowd) take a few bins each.
public struct EmotionTimeline: Sendable {
    /// One bin: the mean over the frames it holds.
    public struct Point: Sendable, Equatable {
        /// The mean time of the frames, in seconds.
        public var time: Double
        /// The mean probabilities, in `Emotion` order.
        public var probabilities: [Double]
        /// The number of frames averaged.
        public var frames: Int
    }

    private struct Bin: Sendable {
        var index: Int
        var timeSum: Double
        var sums: [Double]
        var frames: Int
    }

    /// The most points kept per track.
    public let capacity: Int
    /// The current bin width in seconds.
    public private(set) var binWidth: Double
    private var bins: [Int: [Bin]] = [:]
    /// The first time added: bin 0 starts there.
    private var origin: Double?

    /// An empty timeline for a video at `frameRate` frames per second.
    public init(frameRate: Double, capacity: Int = 600) {
        self.capacity = max(capacity, 2)
        self.binWidth = 1 / max(frameRate, 0.001)
    }

    /// The track numbers recorded, in increasing order.
    public var tracks: [Int] { bins.keys.sorted() }

    /// Adds a track's probabilities at `time` seconds (times in increasing order per track; bins count from the
    /// first time added, so a clip starting late is binned by its own length).
    public mutating func add(track: Int, time: Double, probabilities: [Float]) {
        let elapsed = time - (origin ?? time)
        if origin == nil { origin = time }
        var index = Int((elapsed / binWidth + 1e-6).rounded(.down))
        while index >= capacity || index < -capacity {
            coarsen()
            index = Int((elapsed / binWidth + 1e-6).rounded(.down))
        }
        var trackBins = bins[track, default: []]
        if var last = trackBins.last, last.index == index {
            last.timeSum += time
            last.frames += 1
            for (position, value) in probabilities.prefix(last.sums.count).enumerated() { last.sums[position] += Double(value) }
            trackBins[trackBins.count - 1] = last
        } else {
            var sums = [Double](repeating: 0, count: Emotion.count)
            for (position, value) in probabilities.prefix(sums.count).enumerated() { sums[position] = Double(value) }
            trackBins.append(Bin(index: index, timeSum: time, sums: sums, frames: 1))
        }
        bins[track] = trackBins
    }

    /// The points of `track`, oldest first.
    public func points(track: Int) -> [Point] {
        (bins[track] ?? []).map { bin in
            Point(time: bin.timeSum / Double(bin.frames), probabilities: bin.sums.map { $0 / Double(bin.frames) },
                  frames: bin.frames)
        }
    }

    /// Whether two consecutive points of a track are in adjacent bins (no frames without the track between them).
    public func areContiguous(track: Int, _ first: Int, _ second: Int) -> Bool {
        guard let trackBins = bins[track], trackBins.indices.contains(first), trackBins.indices.contains(second) else {
            return false
        }
        return abs(trackBins[second].index - trackBins[first].index) <= 1
    }

    /// Doubles the bin width and merges bins pairwise, in every track.
    private mutating func coarsen() {
        binWidth *= 2
        for (track, trackBins) in bins {
            var merged: [Bin] = []
            merged.reserveCapacity(trackBins.count / 2 + 1)
            for var bin in trackBins {
                bin.index >>= 1  // floor division: bins -2 and -1 merge, not -1 and 0
                if var last = merged.last, last.index == bin.index {
                    last.timeSum += bin.timeSum
                    last.frames += bin.frames
                    for position in last.sums.indices { last.sums[position] += bin.sums[position] }
                    merged[merged.count - 1] = last
                } else {
                    merged.append(bin)
                }
            }
            bins[track] = merged
        }
    }
}
