@testable import EmovereServer
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import EmovereTestSupport
import Hummingbird
import Testing

/// The running server over loopback sockets: HTTP and the WebSocket stream.
struct LiveServerTests {
    struct StreamReply: Decodable, Sendable {
        struct Face: Decodable, Sendable {
            var track: Int
            var emotion: String
            var confidence: Float
            var probabilities: [String: Float]
        }
        struct Failure: Decodable, Sendable { var message: String }
        var frame: Int?
        var dropped: Int
        var width: Int?
        var milliseconds: Double?
        var faces: [Face]?
        var error: Failure?
    }

    /// Foundation's URLSession as the client (one the server meets in the field, beside the tests' own), with a
    /// generous timeout: a debug-build analysis on a busy 2-core machine has exceeded 20 s.
    @Test func analyzeOverLoopback() async throws {
        try await ServerFixture.server().whileRunning { port in
            var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/v1/analyze")),
                                     timeoutInterval: 600)
            request.httpMethod = "POST"
            request.setValue("image/jpeg", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(ServerFixture.sampleJPEG)
            let (status, body) = try await Self.send(request)
            #expect(status == 200)
            try RouteTests.expectOneFace(ByteBuffer(bytes: body))
            let (healthStatus, _) = try await Self.get("/healthz", port: port)
            #expect(healthStatus == 200)
        }
    }

    /// The status and body of a GET of `path` on the server at `port` through URLSession, with the same generous
    /// timeout (20 s ran out on a busy 2-core machine while the whole test suite and a training run shared it).
    static func get(_ path: String, port: Int) async throws -> (Int, Data) {
        try await send(URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)\(path)")),
                                  timeoutInterval: 600))
    }

    /// The status and body of `request`.
    static func send(_ request: URLRequest) async throws -> (Int, Data) {
        try await withCheckedThrowingContinuation { continuation in
            // A session of its own: the shared session's 60 s idle timeout would cut a slow debug-build analysis.
            let configuration = URLSessionConfiguration.ephemeral
            configuration.timeoutIntervalForRequest = request.timeoutInterval
            configuration.timeoutIntervalForResource = request.timeoutInterval
            URLSession(configuration: configuration).dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    continuation.resume(returning: ((response as? HTTPURLResponse)?.statusCode ?? -1, data ?? Data()))
                }
            }.resume()
        }
    }

    /// Five frames sent back to back: the server analyses the first and the newest, dropping those that arrived
    /// while it was busy, and every reply counts what it dropped. A text message gets an error reply.
    @Test func streamAnswersFramesAndDropsStaleOnes() async throws {
        try await ServerFixture.server().whileRunning { port in
            let (all, elapsed) = try await RawConnection.onThread { () -> ([StreamReply], Double) in
                let stream = try LoopbackWebSocket(port: port)
                let decode = { (text: String) in try JSONDecoder().decode(StreamReply.self, from: Data(text.utf8)) }
                let sent = Date()
                for _ in 0..<5 { stream.send(binary: ServerFixture.sampleJPEG) }
                var replies: [StreamReply] = []
                var accounted = 0
                while accounted < 5, let text = try stream.nextText() {
                    replies.append(try decode(text))
                    accounted += 1 + replies[replies.count - 1].dropped
                }
                let elapsed = Date().timeIntervalSince(sent) * 1000
                // A text message, then a frame that is no image: each answered with an error, the stream kept.
                stream.send(text: "hello")
                if let text = try stream.nextText() { replies.append(try decode(text)) }
                stream.send(binary: [1, 2, 3])
                if let text = try stream.nextText() { replies.append(try decode(text)) }
                stream.close()
                return (replies, elapsed)
            }
            let frames = all.filter { $0.error == nil }
            try #require(!frames.isEmpty)
            #expect(frames.count < 5, "stale frames should be dropped, got \(frames.count) replies")
            #expect(frames.map { 1 + $0.dropped }.reduce(0, +) == 5)
            #expect(frames.last?.frame == 5)
            for reply in frames {
                #expect(reply.width == 512)
                // In milliseconds: within the time the client waited for the replies (however busy the machine).
                #expect(reply.milliseconds.map { $0 > 0 && $0 <= elapsed } == true,
                        "analysis time \(String(describing: reply.milliseconds)) ms, replies within \(elapsed) ms")
                let faces = reply.faces ?? []
                #expect(faces.count == 1)
                #expect(faces.first?.track == 1, "the same face keeps track 1")
                #expect(faces.first.map { abs($0.probabilities.values.reduce(0, +) - 1) < 1e-3 } == true)
            }
            #expect(all.dropLast().last?.error?.message.contains("expected a binary message") == true)
            #expect(all.last?.error != nil && all.last?.frame == 6, "\(String(describing: all.last))")
            let (_, metrics) = try await Self.get("/metrics", port: port)
            let text = String(decoding: metrics, as: UTF8.self)
            #expect(text.contains("emovere_stream_frames_total{outcome=\"analysed\"} \(frames.count)"), "\(text)")
            #expect(text.contains("emovere_stream_frames_total{outcome=\"dropped\"} \(5 - frames.count)"))
            #expect(text.contains("emovere_stream_frames_total{outcome=\"failed\"} 1"), "\(text)")
        }
    }
}

extension LiveServerTests {
    /// Frames that are no images, one after another, keep a stream's place without a camera: after
    /// `maximumFailedFramesInARow` of them in a row the stream is closed with 1008 (the page does not reconnect).
    @Test func aStreamOfFramesThatAreNoImagesIsClosed() async throws {
        try await ServerFixture.server().whileRunning { port in
            let (errors, closing) = try await RawConnection.onThread { () -> (Int, (code: Int?, reason: String)?) in
                let stream = try LoopbackWebSocket(port: port)
                var errors = 0
                // One at a time, each answered before the next: none is dropped as stale.
                for _ in 1..<StreamSession.maximumFailedFramesInARow {
                    stream.send(binary: [1, 2, 3])
                    if try stream.nextText() != nil { errors += 1 }
                }
                stream.send(binary: [4, 5, 6])
                return (errors, try stream.closing())
            }
            #expect(errors == StreamSession.maximumFailedFramesInARow - 1)
            #expect(closing?.code == 1008 && closing?.reason.contains("frames in a row were no JPEG or PNG image") == true,
                    "\(String(describing: closing))")
        }
    }

    /// Streams beyond `maximumStreams` are closed as they open (1013, try again later): each may hold a few frames of
    /// up to `maximumFrameBytes`, and connections alone (512 by default) let frames add up to gigabytes.
    @Test func streamsBeyondTheLimitAreClosedAsTheyOpen() async throws {
        var configuration = ServerFixture.patientConfiguration
        configuration.maximumStreams = 1
        try await ServerFixture.server(configuration).whileRunning { port in
            let (refused, second, answered) = try await RawConnection.onThread {
                // The first stream holds the one place while a second one opens.
                let first = try LoopbackWebSocket(port: port)
                first.send(binary: ServerFixture.sampleJPEG)
                _ = try first.nextText()
                let refused = try LoopbackWebSocket(port: port).closing()
                first.close()
                let second = try first.closing()
                // With the first closed, its place is free again (once its session has ended on the server).
                var answered = false
                let deadline = Date().addingTimeInterval(120)  // however long a busy machine takes to end the session
                while !answered && Date() < deadline {
                    let stream = try LoopbackWebSocket(port: port)
                    stream.send(binary: ServerFixture.sampleJPEG)
                    if try stream.nextText() != nil {
                        stream.close()
                        answered = try stream.closing()?.code == 1000
                    }
                    if !answered { Thread.sleep(forTimeInterval: 0.1) }
                }
                return (refused, second, answered)
            }
            #expect(refused?.code == 1013)
            #expect(refused?.reason.contains("too many streams (1)") == true, "\(String(describing: refused?.reason))")
            #expect(second?.code == 1000)
            #expect(answered, "the place of a closed stream is given back")
        }
    }
}
