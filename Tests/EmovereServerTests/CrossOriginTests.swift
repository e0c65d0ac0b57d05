@testable import EmovereServer
import EmovereTestSupport
import Foundation
import Hummingbird
import Testing

/// Pages of other sites: refused with 403 unless `--allow-origin` names them; an allowed one gets CORS headers on
/// every answer and its preflight answered; the server's own page and clients without `Origin` are served as before.
struct CrossOriginTests {
    static let app = "https://app.example.com"

    static func server(allowing origins: [String]) throws -> EmovereServer {
        var configuration = ServerFixture.patientConfiguration
        configuration.crossOrigin = CrossOriginPolicy(allowedOrigins: origins)
        return try ServerFixture.server(configuration)
    }

    /// A page is the server's own when its origin names the `Host` it called, by an IP address or `localhost`.
    @Test(arguments: [
        ("http://127.0.0.1:8080", "127.0.0.1:8080", true), ("http://localhost", "localhost:80", true),
        ("https://LOCALHOST", "localhost", true), ("https://127.0.0.1:443", "127.0.0.1", true),
        ("http://[::1]:8080", "[::1]:8080", true), ("http://[::1]", "[::1]:80", true),
        ("http://cam.localhost:9", "cam.localhost:9", true), ("http://10.0.0.5:8080", "10.0.0.5:8080", true),
        ("http://127.0.0.1:8081", "127.0.0.1:8080", false), ("https://127.0.0.1", "127.0.0.1:80", false),
        ("http://evil.com", "127.0.0.1", false), ("null", "127.0.0.1", false),
        // DNS rebinding: a page whose name was turned to point at this machine agrees with its own Host.
        ("http://evil.example:8080", "evil.example:8080", false), ("http://1.2.3.4.evil.example", "1.2.3.4.evil.example", false),
    ])
    func ownPageIsTheHostByAddressOrLocalhost(origin: String, host: String, own: Bool) {
        #expect((CrossOriginPolicy().decision(origin: origin, host: host) == .notCrossOrigin) == own)
    }

    @Test func decisions() {
        let none = CrossOriginPolicy()
        #expect(none.decision(origin: nil, host: "x") == .notCrossOrigin)
        #expect(none.decision(origin: "http://127.0.0.1:9", host: "127.0.0.1:9") == .notCrossOrigin)
        #expect(none.decision(origin: "http://x", host: "x") == .refused)  // a domain name: rebinding could fake it
        #expect(none.decision(origin: Self.app, host: "x") == .refused)
        #expect(none.decision(origin: Self.app, host: nil) == .refused)
        #expect(none.decision(origin: "null", host: "x") == .refused)
        // swift-websocket's client sends its URL's scheme and host: no page's.
        #expect(none.decision(origin: "ws://127.0.0.1", host: "127.0.0.1:8080") == .notCrossOrigin)
        let some = CrossOriginPolicy(allowedOrigins: ["http://localhost:3000", Self.app])
        #expect(some.decision(origin: "https://APP.example.com", host: "x") == .allowed(allowOriginHeader: "https://APP.example.com"))
        // Spellings of one origin match: the default port written out or left out.
        #expect(some.decision(origin: "https://app.example.com:443", host: "x") != .refused)
        #expect(CrossOriginPolicy(allowedOrigins: ["https://app.example.com:443"]).decision(origin: Self.app, host: "x") != .refused)
        #expect(some.decision(origin: "https://app.example.com:8443", host: "x") == .refused)
        #expect(some.decision(origin: "http://localhost:3001", host: "x") == .refused)
        #expect(some.decision(origin: "null", host: "x") == .refused)
        let any = CrossOriginPolicy(allowedOrigins: ["*"])
        #expect(any.decision(origin: "null", host: "x") == .allowed(allowOriginHeader: "*"))
    }

    @Test(arguments: [
        ("app.example.com", "http:// or https://"), ("https://app.example.com/", "no path"),
        ("https://app.example.com/v1", "no path"), ("https://", "expected a host"), ("https://a b", "holds ' '"),
        ("ftp://x", "http:// or https://"), ("http://:8080", "expected a host"), ("http://h:abc", "numeric port"),
        ("http://h:70000", "numeric port"), ("https://user@app.example.com", "holds '@'"),
        ("http://::1:8080", "expected a host"), ("http://[::1", "expected a host"), ("http://h:+80", "numeric port"),
    ])
    func anEntryThatIsNotAnOriginIsASettingError(entry: String, reason: String) throws {
        var configuration = ServerConfiguration()
        configuration.crossOrigin = CrossOriginPolicy(allowedOrigins: [Self.app, entry])
        let error = #expect(throws: ServerError.self) { try configuration.validate() }
        guard case let .invalidSetting(name, _, received) = error else {
            Issue.record("expected an invalid setting, received \(String(describing: error))")
            return
        }
        #expect(name == "allow-origin")
        #expect(received.contains("'\(entry)'") && received.contains(reason), "\(received)")
        configuration.crossOrigin = CrossOriginPolicy(allowedOrigins: ["*", "http://[::1]:8080", Self.app, "HTTP://Cam.Local:8443"])
        try configuration.validate()
    }

    @Test func anotherSitesPageIsRefusedWithAnswerNamingTheOption() async throws {
        try await Self.server(allowing: []).withClient { client in
            for (method, body) in [(HTTPRequest.Method.post, ServerFixture.sampleJPEG), (.get, []), (.options, [])] {
                let response = try await client.execute(
                    uri: method == .get ? "/v1/models" : "/v1/analyze", method: method,
                    headers: [.origin: Self.app, .contentType: "image/jpeg", .accessControlRequestMethod: "POST"],
                    body: ByteBuffer(bytes: body))
                #expect(response.status == .forbidden, "\(method)")
                #expect(response.headers[.accessControlAllowOrigin] == nil)
                let message = try RouteTests.errorMessage(response.body)
                #expect(message.contains("origin \(Self.app) is not allowed") && message.contains("--allow-origin \(Self.app)"),
                        "\(message)")
            }
            // The refusals are counted like any answer.
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains(#"status="403""#), "\(metrics.prefix(1500))")
        }
    }

    @Test func anAllowedPageGetsItsPreflightAndHeadersOnEveryAnswer() async throws {
        try await Self.server(allowing: [Self.app]).withClient { client in
            let preflight = try await client.execute(
                uri: "/v1/analyze", method: .options,
                headers: [.origin: Self.app, .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "content-type"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == Self.app)
            #expect(preflight.headers[.accessControlAllowMethods] == "POST")
            #expect(preflight.headers[.accessControlAllowHeaders] == "Content-Type")
            #expect(preflight.headers[.vary] == "Origin")
            let models = try await client.execute(uri: "/healthz", method: .options,
                                                  headers: [.origin: Self.app, .accessControlRequestMethod: "GET"])
            #expect(models.headers[.accessControlAllowMethods] == "GET, HEAD")

            let analysed = try await client.execute(uri: "/v1/analyze", method: .post,
                                                    headers: [.origin: Self.app, .contentType: "image/jpeg"],
                                                    body: ByteBuffer(bytes: ServerFixture.sampleJPEG))
            #expect(analysed.status == .ok)
            #expect(analysed.headers[.accessControlAllowOrigin] == Self.app)
            try RouteTests.expectOneFace(analysed.body)
            // An error's answer carries the header too, or the page could not read why it failed.
            for (uri, status) in [("/v1/analyze", HTTPResponse.Status.unsupportedMediaType), ("/v2/nothing", .notFound)] {
                let failed = try await client.execute(uri: uri, method: .post,
                                                      headers: [.origin: Self.app, .contentType: "text/plain"])
                #expect(failed.status == status)
                #expect(failed.headers[.accessControlAllowOrigin] == Self.app)
                #expect(failed.headers[.accessControlExposeHeaders] == "Retry-After")
                #expect(failed.headers[.contentType] == "application/json; charset=utf-8")
            }
            // A plain OPTIONS (no preflight) on a served path is still a method the path does not answer.
            let plain = try await client.execute(uri: "/v1/analyze", method: .options, headers: [.origin: Self.app])
            #expect(plain.status == .methodNotAllowed)
            #expect(plain.headers[.accessControlAllowOrigin] == Self.app)
        }
    }

    @Test func anyOriginAndNoOrigin() async throws {
        try await Self.server(allowing: ["*"]).withClient { client in
            let response = try await client.execute(uri: "/v1/models", method: .get, headers: [.origin: "null"])
            #expect(response.status == .ok)
            #expect(response.headers[.accessControlAllowOrigin] == "*")
            #expect(response.headers[.vary] == nil)
            let script = try await client.execute(uri: "/v1/models", method: .get)
            #expect(script.status == .ok)
            #expect(script.headers[.accessControlAllowOrigin] == nil)
        }
    }

    /// Browsers let any page open a WebSocket anywhere: another site's page is refused the stream (403), the server's
    /// own page and an allowed one are upgraded.
    @Test func streamsOpenOnlyForTheServersOwnAndAllowedPages() async throws {
        try await ConnectionGuardTests.withServer(Self.server(allowing: [Self.app])) { port in
            for (origin, expected) in [("http://evil.example", 403), ("http://127.0.0.1:\(port)", 101), (Self.app, 101),
                                       ("http://127.0.0.1:\(port + 1)", 403)] {
                let (connection, status, head) = try ConnectionGuardTests.openStream(
                    port: port, headers: "Host: 127.0.0.1:\(port)\r\nOrigin: \(origin)\r\n")
                #expect(status == expected, "\(origin)")
                if expected == 403 {
                    let answer = head.text.contains("}}")
                        ? head.text : head.text + connection.receive { $0.text.contains("}}") }.bytes.text
                    #expect(answer.contains("origin \(origin) is not allowed"), "\(answer.prefix(400))")
                }
            }
            // The server's own page posts with its Origin and gets no CORS headers (none needed).
            let own = try RawConnection(port: port)
            own.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nOrigin: http://127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
            let answer = own.receive().bytes.text
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(300))")
            #expect(!answer.lowercased().contains("access-control-allow-origin"))
        }
    }
}
