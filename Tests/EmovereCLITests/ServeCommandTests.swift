import EmovereTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `emovere serve --detector ...` end to end: the server names its detector in `/v1/models` and in every
/// analysis, and a photo gives the same numbers through `POST /v1/analyze` as through `analyze --json` (one
/// photo-analysis path).
@Suite(.serialized, .enabled(if: CommandRunner.executable != nil, "the emovere executable is not built"))
struct ServeCommandTests {
    /// The body and status of an HTTP request to the server, waiting as long as it takes.
    static func request(_ url: URL, method: String = "GET", body: Data? = nil) throws -> (status: Int, body: Data) {
        var request = URLRequest(url: url, timeoutInterval: 300)
        request.httpMethod = method
        request.httpBody = body
        if body != nil { request.setValue("image/jpeg", forHTTPHeaderField: "Content-Type") }
        let outcome = LockedOutcome()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            outcome.set((response as? HTTPURLResponse)?.statusCode ?? -1, data ?? Data(), error)
            done.signal()
        }.resume()
        done.wait()
        let (status, data, error) = outcome.get()
        if let error { throw error }
        return (status, data)
    }

    /// The first answer to GET `url` while `server` runs, polling for up to 300 s (debug builds start slowly on a
    /// busy machine); nil if the server exited or never answered.
    static func firstAnswer(_ url: URL, from server: Process) -> (status: Int, body: Data)? {
        for _ in 0..<600 where server.isRunning {
            if let answer = try? request(url) { return answer }
            Thread.sleep(forTimeInterval: 0.5)
        }
        return nil
    }

    final class LockedOutcome: Sendable {
        private let value = Mutex<(Int, Data, (any Error)?)>((-1, Data(), nil))
        func set(_ status: Int, _ data: Data, _ error: (any Error)?) { value.withLock { $0 = (status, data, error) } }
        func get() -> (Int, Data, (any Error)?) { value.withLock { $0 } }
    }

    /// Settings out of range are refused with the setting's name before the server loads a model or listens
    /// (`--max-concurrent 100000` once took 4.4 GB and never listened).
    @Test(arguments: [["--max-concurrent", "100000"], ["--max-pixels", "0"], ["--max-decoded-pixels", "0"],
                      ["--port", "70000"], ["--drain-seconds", "100000"],
                      ["--allow-origin", "https://app.example.com", "--allow-origin", "app.example.com/"]])
    func settingsOutOfRangeAreRefused(arguments: [String]) throws {
        let result = try CommandRunner.run(["serve"] + arguments, limitSeconds: 300)
        #expect(result.status != 0, "\(result)")
        #expect(result.standardError.contains("Error: \(arguments[0]) must be "), "\(result)")
    }

    /// A port another program listens on is named as such, with the remedy (not NIO's bind error).
    @Test func portInUseIsNamed() throws {
        let other = try LoopbackStreamServer(accepts: false)  // listens, never answers
        defer { other.stop() }
        let result = try CommandRunner.run(["serve", "--port", "\(other.port)", "--detector", "none",
                                            "--model", OutputPathTests.model], limitSeconds: 300)
        #expect(result.status == 1 && result.standardError.contains(
            "Error: cannot listen on 127.0.0.1:\(other.port): the port is in use (another program, or another emovere serve, listens on it): choose another port"),
                "\(result)")
    }

    @Test(arguments: ["yunet", "none"])
    func serverNamesItsDetectorAndMatchesAnalyze(detector: String) throws {
        let model = try AnalyzeTests.model.get()
        let (server, port) = try CommandRunner.startServer([
            "--max-concurrent", "1", "--detector", detector, "--tta", "none", "--model", model,
        ] + AnalyzeTests.cascadeOption(for: ["--detector", detector]))
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let base = try #require(URL(string: "http://127.0.0.1:\(port)"))
        let answer = try #require(Self.firstAnswer(base.appendingPathComponent("v1/models"), from: server),
                                  "the server never answered")
        #expect(answer.status == 200)
        let card = try #require(try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])
        #expect((card["detector"] as? [String: Any])?["kind"] as? String == detector, "\(card["detector"] ?? "none")")

        let photo = try Data(contentsOf: URL(fileURLWithPath: AnalyzeTests.sample))
        let analysis = try Self.request(base.appendingPathComponent("v1/analyze"), method: "POST", body: photo)
        #expect(analysis.status == 200)
        let served = try #require(try JSONSerialization.jsonObject(with: analysis.body) as? [String: Any])
        #expect((served["detector"] as? [String: Any])?["kind"] as? String == detector)
        let servedFaces = try #require(served["faces"] as? [[String: Any]])

        let local = try AnalyzeTests.analyze([AnalyzeTests.sample, "--json", "--tta", "none", "--detector", detector])
        try #require(local.status == 0, "\(local)")
        let localFaces = try #require(try AnalyzeTests.photos(local).first?["faces"] as? [[String: Any]])
        try #require(servedFaces.count == 1 && localFaces.count == 1)
        #expect(servedFaces[0]["box"] as? [String: Int] == localFaces[0]["box"] as? [String: Int])
        let servedProbabilities = (servedFaces[0]["probabilities"] as? [String: Any])?.compactMapValues(AnalyzeTests.number)
        let localProbabilities = (localFaces[0]["probabilities"] as? [String: Any])?.compactMapValues(AnalyzeTests.number)
        #expect(servedProbabilities != nil && servedProbabilities == localProbabilities, "the same numbers both ways")
        #expect((servedFaces[0]["landmarks"] != nil) == (detector == "yunet"))
    }

    /// SIGTERM with a silent connection, half a request and an open WebSocket: the server exits 0 once the drain
    /// deadline has passed, instead of waiting for the clients forever.
    @Test func stopSignalClosesStuckConnectionsAfterTheDrainDeadline() throws {
        let model = try AnalyzeTests.model.get()
        let (server, port) = try CommandRunner.startServer([
            "--max-concurrent", "1", "--tta", "none", "--drain-seconds", "1",
            "--request-timeout", "3600", "--stream-idle-timeout", "3600", "--model", model,
        ])
        defer { if server.isRunning { server.terminate() } }
        let base = try #require(URL(string: "http://127.0.0.1:\(port)"))
        try #require(Self.firstAnswer(base.appendingPathComponent("healthz"), from: server)?.status == 200,
                     "the server never answered")
        let silent = try RawConnection(port: port)
        let halfSent = try RawConnection(port: port)
        halfSent.send("POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\nabc")
        let stream = try RawConnection(port: port)
        stream.send("GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(stream.receive { $0.text.contains("\r\n\r\n") }.bytes.text.hasPrefix("HTTP/1.1 101"))

        server.terminate()
        // Generous: the point is that it exits at all (it used to wait for the clients forever).
        for _ in 0..<1200 where server.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!server.isRunning, "still running 120 s after SIGTERM")
        if !server.isRunning { #expect(server.terminationStatus == 0) }
        #expect(silent.receive().closed && halfSent.receive().closed)
    }

    /// SIGTERM with `--unready-seconds`: `/healthz` answers 503 "stopping" while the other routes are still served
    /// (a load balancer takes the replica out before it stops listening), then the server exits 0.
    @Test func stopSignalFirstMarksTheServerUnready() throws {
        let model = try AnalyzeTests.model.get()
        let (server, port) = try CommandRunner.startServer([
            "--max-concurrent", "1", "--tta", "none", "--unready-seconds", "30",
            "--drain-seconds", "1", "--model", model,
        ])
        defer { if server.isRunning { server.terminate() } }
        let base = try #require(URL(string: "http://127.0.0.1:\(port)"))
        try #require(Self.firstAnswer(base.appendingPathComponent("healthz"), from: server)?.status == 200,
                     "the server never answered")

        server.terminate()
        var health = try Self.request(base.appendingPathComponent("healthz"))
        // The unready period (30 s) outlasts this polling (up to 20 s) and the request after it on a busy machine.
        let unreadyBy = Date().addingTimeInterval(20)
        while health.status == 200 && Date() < unreadyBy {
            Thread.sleep(forTimeInterval: 0.1)
            health = try Self.request(base.appendingPathComponent("healthz"))
        }
        #expect(health.status == 503)
        #expect(String(decoding: health.body, as: UTF8.self).contains(#""status":"stopping""#))
        #expect(try Self.request(base.appendingPathComponent("v1/models")).status == 200, "still serving")
        for _ in 0..<1200 where server.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!server.isRunning, "still running 120 s after SIGTERM")
        if !server.isRunning { #expect(server.terminationStatus == 0) }
    }
}
