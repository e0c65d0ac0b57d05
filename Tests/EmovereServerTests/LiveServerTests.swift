import EmovereServer
import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import Testing

/// The running server over loopback sockets: HTTP and the WebSocket stream.
struct LiveServerTests {
    struct StreamReply: Decodable {
        struct Face: Decodable {
            var track: Int
            var emotion: String
            var confidence: Float
            var probabilities: [String: Float]
        }
        struct Failure: Decodable { var message: String }
        var frame: Int?
        var dropped: Int
        var width: Int?
        var faces: [Face]?
        var error: Failure?
    }

    @Test func analyzeOverLoopback() async throws {
        try await ServerFixture.server().application().test(.live) { client in
            let response = try await client.execute(uri: "/v1/analyze", method: .post,
                                                    headers: [.contentType: "image/jpeg"],
                                                    body: ByteBuffer(bytes: ServerFixture.sampleJPEG))
            #expect(response.status == .ok)
            try RouteTests.expectOneFace(response.body)
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
        }
    }

    /// Five frames sent back to back: the server analyses the first and the newest, dropping those that arrived
    /// while it was busy, and every reply counts what it dropped. A text message gets an error reply.
    @Test func streamAnswersFramesAndDropsStaleOnes() async throws {
        let server = try ServerFixture.server()
        try await server.application().test(.live) { client in
            let port = try #require(client.port)
            let replies = Replies()
            var logger = Logger(label: "stream-test")
            logger.logLevel = .warning
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/v1/stream", logger: logger) {
                inbound, outbound, _ in
                for _ in 0..<5 { try await outbound.write(.binary(ByteBuffer(bytes: ServerFixture.sampleJPEG))) }
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                var accounted = 0
                while accounted < 5, let message = try await messages.next() {
                    guard case let .text(text) = message else { continue }
                    let reply = try JSONDecoder().decode(StreamReply.self, from: Data(text.utf8))
                    replies.append(reply)
                    accounted += 1 + reply.dropped
                }
                try await outbound.write(.text("hello"))
                if case let .text(text)? = try await messages.next() {
                    replies.append(try JSONDecoder().decode(StreamReply.self, from: Data(text.utf8)))
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            let all = replies.values
            let frames = all.filter { $0.error == nil }
            try #require(!frames.isEmpty)
            #expect(frames.count < 5, "stale frames should be dropped, got \(frames.count) replies")
            #expect(frames.map { 1 + $0.dropped }.reduce(0, +) == 5)
            #expect(frames.last?.frame == 5)
            for reply in frames {
                #expect(reply.width == 512)
                let faces = reply.faces ?? []
                #expect(faces.count == 1)
                #expect(faces.first?.track == 1, "the same face keeps track 1")
                #expect(faces.first.map { abs($0.probabilities.values.reduce(0, +) - 1) < 1e-3 } == true)
            }
            #expect(all.last?.error?.message.contains("expected a binary message") == true)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            let text = String(buffer: metrics.body)
            #expect(text.contains("emovere_stream_frames_total{outcome=\"analysed\"} \(frames.count)"), "\(text)")
            #expect(text.contains("emovere_stream_frames_total{outcome=\"dropped\"} \(5 - frames.count)"))
        }
    }
}

/// Replies collected by a WebSocket handler.
final class Replies: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [LiveServerTests.StreamReply] = []

    func append(_ reply: LiveServerTests.StreamReply) { lock.withLock { stored.append(reply) } }
    var values: [LiveServerTests.StreamReply] { lock.withLock { stored } }
}
