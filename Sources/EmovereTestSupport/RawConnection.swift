import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// A blocking TCP connection to a loopback port for byte-exact requests (malformed HTTP, silent clients, raw
/// WebSocket frames). Reads wait at most `readTimeoutSeconds`, generous so a busy machine never fails a test.
public final class RawConnection: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    private let descriptor: Int32

    /// `receiveBufferBytes` shrinks the socket's receive buffer (for a client that reads nothing to fill up soon).
    public init(port: Int, readTimeoutSeconds: Int = 120, receiveBufferBytes: Int32? = nil) throws {
        #if os(Linux)
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        var timeout = timeval(tv_sec: readTimeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var receiveBufferBytes {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &receiveBufferBytes, socklen_t(MemoryLayout<Int32>.size))
        }
        #if canImport(Darwin)
        // A send to a peer that closed raises SIGPIPE unless the socket says otherwise (Linux: MSG_NOSIGNAL).
        var noSignal: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &noSignal, socklen_t(MemoryLayout<Int32>.size))
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            throw Failure(description: "connect to port \(port) failed: errno \(errno)")
        }
    }

    deinit { close(descriptor) }

    /// Sends every byte of `bytes` (a peer that already closed is not an error: the test reads what it answered).
    public func send(_ bytes: [UInt8]) {
        Self.send(bytes, on: descriptor)
    }

    /// Sends every byte of `bytes` on the socket `descriptor`, stopping quietly when the peer has closed (no SIGPIPE).
    static func send(_ bytes: [UInt8], on descriptor: Int32) {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            #elseif canImport(Musl)
            let sent = bytes[offset...].withUnsafeBytes { Musl.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            #else
            let sent = bytes[offset...].withUnsafeBytes { Darwin.send(descriptor, $0.baseAddress, $0.count, 0) }
            #endif
            if sent <= 0 { return }
            offset += sent
        }
    }

    public func send(_ text: String) { send(Array(text.utf8)) }

    /// Reads until the peer closes, `stop` holds for what was read, or the read timeout passes.
    /// - Returns: the bytes read and whether the peer closed the connection.
    public func receive(until stop: ([UInt8]) -> Bool = { _ in false }) -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !stop(received) {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return (received, true) }
            if count < 0 {
                if errno == EINTR { continue }
                return (received, errno == ECONNRESET)
            }
            received += buffer[0..<count]
        }
        return (received, false)
    }

    /// Runs `body` on a thread of its own, so blocking reads never hold a Swift concurrency thread.
    public static func onThread<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Swift.Result { try body() }) }.start()
        }
    }
}

extension [UInt8] {
    /// The bytes as text (for matching status lines).
    public var text: String { String(decoding: self, as: UTF8.self) }
}
