@testable import EmovereServer
import Testing

/// The stream watchdog's decisions: an idle stream is closed at its idle timeout, and a reply left unread for the
/// write timeout cuts the connection, even while the client keeps sending frames.
struct StreamWatchdogTests {
    let start = ContinuousClock.now

    func step(at seconds: Int, lastMessage: Int, sendingSince: Int?) -> StreamSession.WatchdogStep {
        StreamSession.watchdogStep(now: start + .seconds(seconds), lastMessage: start + .seconds(lastMessage),
                                   sendingSince: sendingSince.map { start + .seconds($0) }, idleTimeout: .seconds(60),
                                   writeTimeout: .seconds(30))
    }

    @Test func idleStreamsCloseAtTheirTimeout() {
        // Awake again within a write timeout, for a reply that starts waiting meanwhile.
        #expect(step(at: 10, lastMessage: 5, sendingSince: nil) == .wait(until: start + .seconds(40)))
        #expect(step(at: 50, lastMessage: 5, sendingSince: nil) == .wait(until: start + .seconds(65)))
        #expect(step(at: 65, lastMessage: 5, sendingSince: nil) == .closeIdle)
    }

    @Test func anUnreadReplyCutsTheConnection() {
        // The client keeps sending (its last message 1 s ago) but has not read a reply for 30 s.
        #expect(step(at: 20, lastMessage: 19, sendingSince: 10) == .wait(until: start + .seconds(40)))
        #expect(step(at: 40, lastMessage: 39, sendingSince: 10) == .cutUnreadConnection)
        // A reply waiting less long than the idle deadline is away does not delay the idle close.
        #expect(step(at: 70, lastMessage: 5, sendingSince: 50) == .closeIdle)
    }
}
