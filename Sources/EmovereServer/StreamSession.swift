import Emovere
import EmovereCore
import EmovereFiles
import EmovereVision
import Foundation
import HummingbirdWebSocket
import NIOCore
import Logging

/// One `GET /v1/stream` WebSocket connection: the client sends JPEG (or PNG) frames as binary messages and gets one
/// JSON text message per analysed frame. Only the newest waiting frame is analysed; frames that arrive while one is
/// being analysed replace each other, and the next reply says how many were dropped, so a slow server never builds
/// a backlog. Faces keep an identity across frames (`FaceTracker`) and their probabilities are smoothed per track
/// (`ProbabilitySmoother`, an exponential moving average), so labels do not flicker.
struct StreamSession {
    /// A reply to one analysed frame.
    struct Reply: Encodable {
        /// The frame's number on this connection (1 for the first frame received).
        var frame: Int
        /// Frames skipped since the previous reply because a newer one had arrived.
        var dropped: Int
        var width: Int
        var height: Int
        /// Time spent decoding and analysing the frame.
        var milliseconds: Double
        /// Faces detected but not analysed (beyond the server's face budget).
        var skippedFaces: Int
        var faces: [FaceRecord]
    }

    /// A reply to a frame (or message) that could not be analysed; the connection stays open.
    struct ErrorReply: Encodable {
        struct Message: Encodable { var message: String }
        var frame: Int?
        var dropped: Int
        var error: Message
    }

    let pool: RecognizerPool
    let metrics: ServerMetrics
    let limits: ImageLimits
    /// The most faces analysed per frame (the largest).
    let maximumFaces: Int
    let maximumMessageBytes: Int
    /// The streams open at once, and their limit.
    let streams: Allowance
    /// How long the client may send nothing before the server closes the stream.
    let idleTimeout: Duration
    /// How long a reply may wait for the client to read before the connection is cut.
    let writeTimeout: Duration
    let logger: Logger

    /// How long a client has to answer (or read) the close frame of an idle stream before the connection is cut.
    static let closeGrace = Duration.seconds(5)
    /// Frames in a row that could not be analysed (no image: junk that only kept a stream's place) after which the
    /// stream is closed with 1008. A camera's frames are images.
    static let maximumFailedFramesInARow = 5

    /// What the stream's watchdog does next.
    enum WatchdogStep: Equatable {
        /// Nothing is due before this instant.
        case wait(until: ContinuousClock.Instant)
        /// The client sent nothing for the idle timeout: send a close frame, and cut the connection after
        /// ``closeGrace``.
        case closeIdle
        /// A reply has waited the write timeout for the client to read: cut the connection (a close frame could not
        /// leave either).
        case cutUnreadConnection
    }

    /// The watchdog's step at `now`, the client's last message at `lastMessage`, and replies waiting to be sent since
    /// `sendingSince` (nil: none).
    static func watchdogStep(now: ContinuousClock.Instant, lastMessage: ContinuousClock.Instant,
                             sendingSince: ContinuousClock.Instant?, idleTimeout: Duration,
                             writeTimeout: Duration) -> WatchdogStep {
        if let sendingSince, now - sendingSince >= writeTimeout { return .cutUnreadConnection }
        let idleDeadline = lastMessage + idleTimeout
        if now >= idleDeadline { return .closeIdle }
        // Awake at least once a write timeout: a reply may start waiting at any moment.
        return .wait(until: min((sendingSince ?? now) + writeTimeout, idleDeadline))
    }

    /// Sends the replies as JSON text messages, and knows since when replies have waited to be sent.
    struct Replies: Sendable {
        /// Replies being sent: how many, and since when at least one has been.
        private struct Sending {
            var count = 0
            var since: ContinuousClock.Instant?
        }

        let outbound: WebSocketOutboundWriter
        private let sending = Locked(Sending())

        init(outbound: WebSocketOutboundWriter) {
            self.outbound = outbound
        }

        /// Since when replies have been waiting to be sent without a pause (nil: none is).
        var sendingSince: ContinuousClock.Instant? { sending.withValue { $0.since } }

        func send(_ reply: some Encodable) async throws {
            let text = String(decoding: try JSONEncoder.sortedKeys().encode(reply), as: UTF8.self)
            sending.withValue {
                if $0.count == 0 { $0.since = .now }
                $0.count += 1
            }
            defer {
                sending.withValue {
                    $0.count -= 1
                    if $0.count == 0 { $0.since = nil }
                }
            }
            try await outbound.write(.text(text))
        }
    }

    /// Serves the connection until the client closes it, sends no message for `idleTimeout` (a close frame, and
    /// `channel` closed ``closeGrace`` later unless the client closed first) or leaves a reply unread for
    /// `writeTimeout` (`channel` closed).
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel) async throws {
        guard streams.take(1) else {
            // Each stream may hold a few frames: the count, not only the connections, bounds their memory.
            logger.debug("stream refused: \(streams.limit) streams open")
            return try await outbound.close(.unknown(1013), reason: "too many streams (\(streams.limit)); try again later")
        }
        defer { streams.give(1) }
        metrics.recordStreamConnection(1)
        logger.debug("stream connection opened")
        defer {
            metrics.recordStreamConnection(-1)
            logger.debug("stream connection closed")
        }
        let mailbox = FrameMailbox<[UInt8], Never>(policy: .newest)
        let lastMessage = Locked(ContinuousClock.now)  // of any kind: the idle watchdog's clock
        let replies = Replies(outbound: outbound)
        let (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let watchdog = Task { [idleTimeout, writeTimeout, logger] in
            while true {
                let step = Self.watchdogStep(now: .now, lastMessage: lastMessage.withValue { $0 },
                                             sendingSince: replies.sendingSince, idleTimeout: idleTimeout,
                                             writeTimeout: writeTimeout)
                switch step {
                case let .wait(until: deadline):
                    do { try await Task.sleep(until: deadline) } catch { return }  // cancelled: the stream has ended
                case .closeIdle:
                    logger.debug("stream closed: no message for \(idleTimeout)")
                    // The close frame may wait on a client that reads nothing, and a client may never answer it.
                    let closing = Task {
                        do {
                            try await outbound.close(.goingAway, reason: "no message for \(idleTimeout)")
                        } catch {
                            logger.debug("stream close frame not sent: \(error)")
                        }
                    }
                    do { try await Task.sleep(for: Self.closeGrace) } catch { return }  // the stream ended in time
                    closing.cancel()
                    logger.debug("stream cut: its close frame unanswered for \(Self.closeGrace)")
                    return channel.close(promise: nil)
                case .cutUnreadConnection:
                    logger.debug("stream cut: a reply waited \(writeTimeout) for the client to read")
                    return channel.close(promise: nil)
                }
            }
        }
        defer { watchdog.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { signal.finish() }
                for try await message in inbound.messages(maxSize: maximumMessageBytes) {
                    switch message {
                    case let .binary(buffer):
                        lastMessage.withValue { $0 = .now }
                        mailbox.put(Array(buffer.readableBytesView))
                        signal.yield()
                    case .text:
                        // Answered, but no sign of a camera: it keeps no stream's place past the idle timeout.
                        try await replies.send(ErrorReply(frame: nil, dropped: 0, error: .init(
                            message: "expected a binary message holding a JPEG or PNG frame, received a text message")))
                    }
                }
            }
            group.addTask {
                var tracking = Tracking()
                var failedInARow = 0
                for await _ in signals {
                    guard let frame = mailbox.take() else { continue }
                    let analysed = try await analyze(frame, tracking: &tracking, replies: replies)
                    failedInARow = analysed ? 0 : failedInARow + 1
                    if failedInARow == Self.maximumFailedFramesInARow {
                        logger.debug("stream closed: \(failedInARow) frames in a row were no images")
                        try await outbound.close(.policyViolation,
                                                 reason: "\(failedInARow) frames in a row were no JPEG or PNG image")
                        return
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Analyses `frame` and sends its reply; returns whether it was analysed (false: an error reply was sent).
    private func analyze(_ frame: FrameMailbox<[UInt8], Never>.Delivery, tracking: inout Tracking,
                         replies: Replies) async throws -> Bool {
        let limits = limits
        let stopwatch = Stopwatch()
        let analysis: Analysis
        do {
            analysis = try await pool.withRecognizer { recognizer in
                try Analysis.run(bytes: frame.frame, source: "frame \(frame.number)", limits: limits,
                                 maximumFaces: maximumFaces, annotate: false, with: recognizer)
            }
        } catch let error as ServerError {
            metrics.recordStreamFrame(dropped: frame.dropped, failed: true)
            try await replies.send(ErrorReply(frame: frame.number, dropped: frame.dropped,
                                              error: .init(message: error.description)))
            return false
        }
        metrics.recordStreamFrame(dropped: frame.dropped)
        metrics.recordFaces(analysis.faces.count)
        let faces = tracking.follow(analysis.faces, frame: frame.number).map { track, face in
            FaceRecord(track: track, box: face.box, probabilities: face.probabilities, detectionScore: face.detectionScore,
                       landmarks: face.landmarks)
        }
        let milliseconds = stopwatch.elapsedSeconds * 1000
        try await replies.send(Reply(frame: frame.number, dropped: frame.dropped, width: analysis.width,
                                     height: analysis.height, milliseconds: (milliseconds * 10).rounded() / 10,
                                     skippedFaces: analysis.skippedFaces, faces: faces))
        return true
    }
}

/// A connection's face tracks and their smoothed probabilities.
struct Tracking {
    /// Weight of the newest frame in the moving average.
    static let newestFrameWeight: Float = 0.5

    var tracker = FaceTracker()
    var smoother = ProbabilitySmoother(alpha: newestFrameWeight)

    /// `faces` of frame number `frame` with their track identifiers and smoothed probabilities.
    mutating func follow(_ faces: [FaceEmotion], frame: Int) -> [(track: Int, face: FaceEmotion)] {
        let identifiers = tracker.update(detections: faces.map(\.box), frame: frame)
        smoother.keep(only: Set(tracker.tracks.map(\.identifier)))
        return zip(identifiers, faces).map { identifier, face in
            var smoothed = face
            smoothed.probabilities = smoother.smooth(track: identifier, probabilities: face.probabilities)
            return (identifier, smoothed)
        }
    }
}
