import EmovereCore
import Foundation
import Testing

/// The one frame hand-over of `live` and the server's WebSocket stream.
struct FrameMailboxTests {
    struct ReaderFailed: Error, Equatable {}

    /// `.newest` keeps the newest frame and counts what it replaced, per delivery and in all.
    @Test func newestReplacesAndCountsTheDropped() {
        let mailbox = FrameMailbox<[UInt8], Never>(policy: .newest)
        #expect(mailbox.take() == nil)
        #expect(mailbox.put([1]) && mailbox.put([2]) && mailbox.put([3]))
        let frame = mailbox.take()
        #expect(frame?.frame == [3] && frame?.number == 3 && frame?.dropped == 2)
        #expect(mailbox.take() == nil)
        mailbox.put([4])
        #expect(mailbox.take()?.dropped == 0)
        #expect(mailbox.dropped == 2)
        mailbox.close()
        #expect(!mailbox.put([5]) && mailbox.take() == nil && mailbox.isClosed)
    }

    /// `.every` delivers every frame in order to a consumer blocked in `next()`, the producer waiting for each to
    /// be taken; then the end, or the producer's error.
    @Test(arguments: [false, true])
    func everyFrameReachesABlockedConsumerThenTheEnd(failing: Bool) throws {
        let mailbox = FrameMailbox<Int, ReaderFailed>(policy: .every)
        let producer = Thread {
            for value in 0..<500 { mailbox.put(value) }
            mailbox.finish(failure: failing ? ReaderFailed() : nil)
        }
        let received = Locked<[Int]>([])
        let outcome = Locked<ReaderFailed?>(nil)
        let consumed = DispatchSemaphore(value: 0)
        let consumer = Thread {
            do throws(ReaderFailed) {
                while let delivery = try mailbox.next() {
                    #expect(delivery.dropped == 0 && delivery.number == delivery.frame + 1)
                    received.withValue { $0.append(delivery.frame) }
                }
            } catch {
                outcome.withValue { $0 = error }
            }
            consumed.signal()
        }
        producer.start()
        consumer.start()
        // A lost wake-up would block both threads: the test then fails after ten minutes instead of hanging.
        try #require(consumed.wait(timeout: .now() + 600) == .success, "the hand-over stalled")
        #expect(received.withValue { $0 } == Array(0..<500))
        #expect(outcome.withValue { $0 } == (failing ? ReaderFailed() : nil))
        #expect(mailbox.dropped == 0)
    }

    /// Closing from the consumer's side releases a producer waiting to hand over its next frame (which `put`
    /// then refuses); the frame that waited is discarded.
    @Test func closeReleasesAWaitingProducer() {
        let mailbox = FrameMailbox<Int, Never>(policy: .every)
        let accepted = Locked<[Bool]>([])
        let finished = DispatchSemaphore(value: 0)
        let producer = Thread {
            for value in 0..<2 {
                let wasAccepted = mailbox.put(value)  // the second waits: the first is never taken
                accepted.withValue { $0.append(wasAccepted) }
            }
            finished.signal()
        }
        producer.start()
        // The first frame is in before closing (on a busy machine the thread may start late); whether the second
        // put is already waiting or comes after the close, it is refused.
        let deadline = Date().addingTimeInterval(600)
        while accepted.withValue({ $0.isEmpty }), Date() < deadline { usleep(1_000) }
        usleep(20_000)
        mailbox.close()
        #expect(finished.wait(timeout: .now() + 600) == .success, "the producer was never released")
        #expect(accepted.withValue { $0 } == [true, false])
        #expect(mailbox.take() == nil && (try? mailbox.next()) == nil)
    }
}
