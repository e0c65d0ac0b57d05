import EmovereServer
import EmovereTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Testing

/// An HTTP/1.1 client for a server under test on a loopback port: each request a connection of its own
/// (`Connection: close`), its answer read whole (`Content-Length`, chunked, or up to the close). Real sockets, so
/// every request passes the connection guard and the middleware as a client's would.
struct LoopbackClient: Sendable {
    /// The port the server listens on.
    let port: Int

    /// A whole answer.
    struct Response: Sendable {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: ByteBuffer
    }

    struct MalformedResponse: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends `method uri` with `headers` and `body` and returns the answer.
    func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:],
                 body: ByteBuffer? = nil) async throws -> Response {
        var head = "\(method.rawValue) \(uri) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for field in headers { head += "\(field.name.rawName): \(field.value)\r\n" }
        let bytes = body.map { Array($0.readableBytesView) } ?? []
        if body != nil || method == .post || method == .put { head += "Content-Length: \(bytes.count)\r\n" }
        let request = Array((head + "\r\n").utf8) + bytes
        let port = port
        let (answer, closed) = try await RawConnection.onThread {
            // Up to 10 minutes for the answer: an analysis in a debug build on a busy 2-core machine took 20-90 s.
            let connection = try RawConnection(port: port, readTimeoutSeconds: 600)
            connection.send(request)
            return connection.receive()
        }
        guard closed else {
            throw MalformedResponse(description: "\(method) \(uri): the answer did not end within the read timeout "
                                    + "(\(answer.count) bytes came)")
        }
        return try Self.parse(answer, method: method)
    }

    /// Sends the request and runs `check` on its answer.
    func execute<Value>(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil,
                        _ check: (Response) async throws -> Value) async throws -> Value {
        try await check(execute(uri: uri, method: method, headers: headers, body: body))
    }

    /// The answer in `bytes`, read up to the connection's close.
    static func parse(_ bytes: [UInt8], method: HTTPRequest.Method) throws -> Response {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else {
            throw MalformedResponse(description: "no end of the head in \(bytes.count) bytes: \(bytes.text.prefix(200))")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines[0].split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let code = Int(statusLine[1]) else {
            throw MalformedResponse(description: "status line \(lines[0])")
        }
        var headers = HTTPFields()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":"), let name = HTTPField.Name(String(line[..<colon])) else {
                throw MalformedResponse(description: "header line \(line)")
            }
            headers.append(HTTPField(name: name, value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var body = Array(bytes[(end + separator.count)...])
        if method == .head {
            body = []
        } else if headers[.transferEncoding]?.lowercased() == "chunked" {
            body = try dechunked(body)
        } else if let length = headers[.contentLength].flatMap(Int.init) {
            guard body.count >= length else {
                throw MalformedResponse(description: "a body of \(body.count) bytes, \(length) announced")
            }
            body = Array(body.prefix(length))
        }
        return Response(status: HTTPResponse.Status(code: code), headers: headers, body: ByteBuffer(bytes: body))
    }

    /// The data of a chunked body.
    static func dechunked(_ bytes: [UInt8]) throws -> [UInt8] {
        var data: [UInt8] = []
        var position = 0
        while true {
            let digits = Set("0123456789abcdefABCDEF")
            guard let lineEnd = bytes[position...].indices.first(where: { bytes[$0...].starts(with: [13, 10]) }),
                  case let text = String(decoding: bytes[position..<lineEnd], as: UTF8.self).prefix(while: { $0 != ";" }),
                  !text.isEmpty, text.allSatisfy(digits.contains), let size = Int(text, radix: 16) else {
                throw MalformedResponse(description: "a chunk size at byte \(position)")
            }
            let start = lineEnd + 2
            if size == 0 { return data }
            guard start + size + 2 <= bytes.count, bytes[start + size] == 13, bytes[start + size + 1] == 10 else {
                throw MalformedResponse(description: "a chunk of \(size) bytes cut short or not ended by CRLF")
            }
            data += bytes[start..<start + size]
            position = start + size + 2
        }
    }
}

extension EmovereServer {
    /// Runs the server on a free loopback port while `body` runs with its port; returns `body`'s result once the
    /// server has stopped (also when `body` throws).
    func whileRunning<Value>(_ body: (Int) async throws -> Value) async throws -> Value {
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let application = application { listening.yield($0) }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { listening.finish() }  // a server that fails to start ends the wait for its port
                try await application.run()
            }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let value = try await body(port)
            group.cancelAll()
            return value
        }
    }

    /// Runs the server on a free loopback port while `body` runs with a client for it.
    func withClient<Value>(_ body: (LoopbackClient) async throws -> Value) async throws -> Value {
        try await whileRunning { port in try await body(LoopbackClient(port: port)) }
    }
}
