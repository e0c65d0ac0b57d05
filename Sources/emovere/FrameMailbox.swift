import EmovereVideo
import EmovereVision
import Foundation

/// Hands frames from the reader thread to the processing loop. With `keepLatestOnly` a new frame replaces one
/// not yet taken (counted in `dropped`); otherwise the reader waits until the previous frame is taken.
final class FrameMailbox: @unchecked Sendable {
    struct Delivery {
        var frame: RGBImage
        var index: Int
        var arrival: ContinuousClock.Instant
    }

    private let condition = NSCondition()
    private let keepLatestOnly: Bool
    private var pending: Delivery?
    private var ended = false
    private var closed = false
    private var failure: VideoError?
    private var droppedCount = 0

    init(keepLatestOnly: Bool) {
        self.keepLatestOnly = keepLatestOnly
    }

    var dropped: Int {
        condition.lock()
        defer { condition.unlock() }
        return droppedCount
    }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    func put(_ frame: RGBImage, index: Int) {
        condition.lock()
        defer { condition.unlock() }
        if keepLatestOnly {
            if pending != nil { droppedCount += 1 }
        } else {
            while pending != nil && !closed { condition.wait() }
        }
        guard !closed else { return }
        pending = Delivery(frame: frame, index: index, arrival: .now)
        condition.broadcast()
    }

    /// The next frame; nil at the end of the input; throws the reader's error.
    func take() throws(VideoError) -> Delivery? {
        condition.lock()
        defer { condition.unlock() }
        while pending == nil && !ended && !closed { condition.wait() }
        if let delivery = pending {
            pending = nil
            condition.broadcast()
            return delivery
        }
        if let failure { throw failure }
        return nil
    }

    /// The reader stopped (at the end, or with `error`).
    func finish(error: VideoError?) {
        condition.lock()
        defer { condition.unlock() }
        ended = true
        failure = error
        condition.broadcast()
    }

    /// The consumer stopped: the reader ends at its next frame.
    func close() {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        pending = nil
        condition.broadcast()
    }
}
