import Emovere
import EmovereCore
import EmovereFiles
import EmovereVision
import Foundation
import HummingbirdWebSocket
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
    let logger: Logger

    /// Serves the connection until the client closes it or sends no message for `idleTimeout`.
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
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
        let (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let watchdog = Task { [idleTimeout] in
            while true {
                let deadline = lastMessage.withValue { $0 } + idleTimeout
                if ContinuousClock.now >= deadline {
                    logger.debug("stream closed: no message for \(idleTimeout)")
                    try await outbound.close(.goingAway, reason: "no message for \(idleTimeout)")
                    return
                }
                try await Task.sleep(until: deadline)
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
                        lastMessage.withValue { $0 = .now }
                        try await send(ErrorReply(frame: nil, dropped: 0, error: .init(
                            message: "expected a binary message holding a JPEG or PNG frame, received a text message")),
                            to: outbound)
                    }
                }
            }
            group.addTask {
                var tracking = Tracking()
                for await _ in signals {
                    guard let frame = mailbox.take() else { continue }
                    try await analyze(frame, tracking: &tracking, outbound: outbound)
                }
            }
            try await group.waitForAll()
        }
    }

    private func analyze(_ frame: FrameMailbox<[UInt8], Never>.Delivery, tracking: inout Tracking,
                         outbound: WebSocketOutboundWriter) async throws {
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
            try await send(ErrorReply(frame: frame.number, dropped: frame.dropped, error: .init(message: error.description)),
                           to: outbound)
            return
        }
        metrics.recordStreamFrame(dropped: frame.dropped)
        metrics.recordFaces(analysis.faces.count)
        let faces = tracking.follow(analysis.faces, frame: frame.number).map { track, face in
            FaceRecord(track: track, box: face.box, probabilities: face.probabilities, detectionScore: face.detectionScore,
                       landmarks: face.landmarks)
        }
        let milliseconds = stopwatch.elapsedSeconds * 1000
        try await send(Reply(frame: frame.number, dropped: frame.dropped, width: analysis.width, height: analysis.height,
                             milliseconds: (milliseconds * 10).rounded() / 10, skippedFaces: analysis.skippedFaces,
                             faces: faces), to: outbound)
    }

    private func send(_ reply: some Encodable, to outbound: WebSocketOutboundWriter) async throws {
        try await outbound.write(.text(String(decoding: try JSONEncoder.sortedKeys().encode(reply), as: UTF8.self)))
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
