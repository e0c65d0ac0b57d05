import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// A TCP listener on a free loopback port that serves one byte stream over HTTP to every connection, for tests of
/// network streams: each client gets `200 OK`, `headers` and `body` (without a length unless `headers` give one),
/// then the connection is closed, or with
/// `stallsAfterBody` kept open and silent (a camera that stopped sending). Connections are served one at a time, each
/// body sent whole before the next is accepted (two clients reading at once need bodies that fit the sockets'
/// buffers). The first connections get the statuses of `firstAnswers` instead, one each, with no body
/// (`503 Service Unavailable`: a camera still starting; `302 Found\r\nLocation: URL`, a redirect). With `accepts` false no
/// connection is ever answered (they wait in the backlog, as with a host that does not respond). `requestHeads` holds
/// the head of every request received, in order.
public final class LoopbackStreamServer: @unchecked Sendable {
    /// The port it listens on.
    public let port: Int
    private let listener: Int32
    private let held = NSLock()
    private var connections: [Int32] = []
    private var stopped = false
    private var heads: [String] = []

    /// The head (request line and header lines) of each request received so far.
    public var requestHeads: [String] {
        held.lock()
        defer { held.unlock() }
        return heads
    }

    public init(body: [UInt8] = [], headers: [String] = ["Content-Type: video/mp2t"], stallsAfterBody: Bool = false,
                firstAnswers: [String] = [], accepts: Bool = true) throws {
        (listener, port) = try Self.openListener()
        self.accepts = accepts
        guard accepts else { return }
        let thread = Thread { [self] in
            defer { closeEverything() }  // the thread closes what it uses: no descriptor is closed under it
            var statuses = firstAnswers[...]
            while let connection = nextConnection() {
                guard keep(connection) else { return }
                let request = Self.receiveRequestHead(connection)
                held.lock()
                heads.append(request)
                held.unlock()
                if let status = statuses.popFirst() {
                    RawConnection.send(Array("HTTP/1.0 \(status)\r\nContent-Length: 0\r\n\r\n".utf8), on: connection)
                    shutdown(connection, Int32(SHUT_RDWR))
                    continue
                }
                let answer = (["HTTP/1.0 200 OK"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
                RawConnection.send(Array(answer.utf8) + body, on: connection)
                if !stallsAfterBody { shutdown(connection, Int32(SHUT_RDWR)) }
            }
        }
        thread.name = "emovere.test-stream-server"
        thread.start()
    }

    deinit { stop() }

    private let accepts: Bool

    /// Ends the listener and every connection (shut down here, closed by the serving thread as it ends).
    public func stop() {
        held.lock()
        defer { held.unlock() }
        guard !stopped else { return }
        stopped = true
        shutdown(listener, Int32(SHUT_RDWR))
        for connection in connections { shutdown(connection, Int32(SHUT_RDWR)) }
        if !accepts { close(listener) }  // no thread: nothing else uses it
    }

    private func closeEverything() {
        held.lock()
        defer { held.unlock() }
        stopped = true  // a later `stop()` must not shut down the numbers closed here (another socket may get them)
        close(listener)
        for connection in connections { close(connection) }
        connections = []
    }

    /// A free loopback port: one that was free a moment ago, its listener closed.
    public static func freePort() throws -> Int {
        let (descriptor, port) = try openListener()
        close(descriptor)
        return port
    }

    /// The next connection, or nil once stopped or the listener fails. The listener is polled every 0.1 s for
    /// `stop()`: on Darwin its `shutdown` does not wake a blocked `accept`.
    private func nextConnection() -> Int32? {
        while true {
            var request = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, 100)
            let pollError = errno
            held.lock()
            let ended = stopped
            held.unlock()
            if ended { return nil }
            if ready < 0 && pollError != EINTR { return nil }
            guard ready > 0 else { continue }
            let connection = accept(listener, nil, nil)
            if connection >= 0 {
                // Darwin's accepted sockets inherit the listener's O_NONBLOCK; the serving thread blocks on them.
                _ = fcntl(connection, F_SETFL, fcntl(connection, F_GETFL) & ~O_NONBLOCK)
                return connection
            }
            if errno != EINTR && errno != EAGAIN && errno != ECONNABORTED { return nil }
        }
    }

    /// Records `connection` to close at `stop()`; false (and closed) once stopped.
    private func keep(_ connection: Int32) -> Bool {
        held.lock()
        defer { held.unlock() }
        guard !stopped else {
            close(connection)
            return false
        }
        connections.append(connection)
        return true
    }

    private static func openListener() throws -> (descriptor: Int32, port: Int) {
        #if os(Linux)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw RawConnection.Failure(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard listening else {
            close(descriptor)
            throw RawConnection.Failure(description: "listening on a loopback port failed: errno \(errno)")
        }
        // Not blocking: a connection aborted between `poll` and `accept` must not hold the serving thread in `accept`.
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Reads until the end of the request's head (or the connection's end), and returns it.
    private static func receiveRequestHead(_ connection: Int32) -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !received.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }
}
