import EmovereTestSupport
import Foundation
import Testing
@testable import EmovereServer

/// Seeded mutation fuzzing of what clients send the server: multipart bodies parse or fail with a 400, and mutated
/// WebSocket frames never take the server down (it still answers afterwards).
struct ServerFuzzTests {
    static var cases: Int { ProcessInfo.processInfo.environment["EMOVERE_FUZZ_CASES"].flatMap(Int.init) ?? 2000 }

    @Test func mutatedMultipartBodiesParseOrAre400() {
        let boundary = "----emovere-boundary"
        let valid = Array(("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            + "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
            + "Content-Type: image/jpeg\r\n\r\n\u{FF}\u{D8}\u{FF}jpeg bytes\r\n--\(boundary)--\r\n").utf8)
        var mutator = Mutator(seed: 6)
        for _ in 0..<Self.cases {
            do {
                let parts = try MultipartForm.parts(of: mutator.mutate(valid), boundary: boundary)
                #expect(parts.allSatisfy { $0.body.count <= valid.count * 2 })
            } catch {
                #expect(error.status == .badRequest, "\(error)")
            }
        }
    }

    /// Mutated frames on upgraded streams: every stream ends closed by the server (a bad frame closes it at once,
    /// a frame cut short leaves it idle until the 1 s stream timeout), none is left hanging, and the server still
    /// answers afterwards.
    @Test func mutatedWebSocketFramesNeverStopTheServer() async throws {
        // The request timeout of the patient tests (a busy 2-core machine has delayed an upgrade past 30 s); the
        // 1 s stream timeout is what ends the streams that are left idle.
        var configuration = ServerFixture.patientConfiguration
        configuration.maximumConcurrentAnalyses = 1
        configuration.maximumConnections = 1000
        configuration.streamIdleSeconds = 1
        let cases = max(Self.cases / 4, 50)
        try await ConnectionGuardTests.withServer(configuration) { port in
            let jpeg = Array(ServerFixture.sampleJPEG.prefix(300))
            let valid = LoopbackWebSocket.frame(opcode: 2, jpeg) + LoopbackWebSocket.frame(opcode: 2, [1, 2, 3]) + [0x88, 0x80, 0, 0, 0, 0]
            var mutator = Mutator(seed: 7)
            var streams: [RawConnection] = []
            for _ in 0..<cases {
                let connection = try RawConnection(port: port)
                connection.send("GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                let upgrade = connection.receive { $0.text.contains("\r\n\r\n") }
                #expect(ConnectionGuardTests.status(upgrade.bytes) == 101, "\(upgrade.bytes.text.prefix(100))")
                connection.send(mutator.mutate(valid))
                streams.append(connection)
            }
            let open = streams.indices.filter { !streams[$0].receive().closed }
            #expect(open.isEmpty, "streams \(open) still open after the idle timeout")
            let health = try RawConnection(port: port)
            health.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(health.receive().bytes.text.hasPrefix("HTTP/1.1 200"))
        }
    }
}
