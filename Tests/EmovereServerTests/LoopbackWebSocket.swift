import EmovereTestSupport

/// A WebSocket client of the server's `/v1/stream` over a blocking loopback connection (RFC 6455): masked frames
/// out, whole messages in. Used from a thread of its own (`RawConnection.onThread`).
final class LoopbackWebSocket {
    /// A message from the server.
    enum Message: Equatable {
        case text(String)
        case binary([UInt8])
        /// A close frame: its status code (nil when it carries none) and reason.
        case close(code: Int?, reason: String)
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    private let connection: RawConnection
    /// Bytes received and not yet parsed.
    private var buffered: [UInt8]

    /// Opens the stream on `port`; throws unless the server upgrades the connection (101). Reads wait up to 10
    /// minutes: a reply may wait for an analysis, which a debug build on a busy 2-core machine has taken 20-90 s for.
    init(port: Int) throws {
        let (connection, status, answer) = try ConnectionGuardTests.openStream(port: port, readTimeoutSeconds: 600)
        guard status == 101 else { throw Failure(description: "upgrade answered \(String(describing: status)): \(answer.text.prefix(300))") }
        self.connection = connection
        let separator = Array("\r\n\r\n".utf8)
        let end = answer.indices.first { answer[$0...].starts(with: separator) } ?? answer.count
        buffered = Array(answer.dropFirst(end + separator.count))
    }

    /// A frame as a client sends it: final, masked, with `opcode` (2 binary, 1 text, 8 close).
    static func frame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65_536 {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> (8 * $0)) }
        }
        return frame + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    func send(binary: [UInt8]) { connection.send(Self.frame(opcode: 2, binary)) }

    /// Sends `bytes` as they are (a malformed frame).
    func send(raw bytes: [UInt8]) { connection.send(bytes) }

    func send(text: String) { connection.send(Self.frame(opcode: 1, Array(text.utf8))) }

    /// Starts the closing handshake with `code`.
    func close(code: Int = 1000) { connection.send(Self.frame(opcode: 8, [UInt8(code >> 8), UInt8(code & 0xFF)])) }

    /// The next message; nil when the connection ended without a close frame.
    func receive() throws -> Message? {
        var fragments: [UInt8] = []
        var fragmentsOpcode: UInt8?
        while true {
            guard let (final, opcode, payload) = try nextFrame() else { return nil }
            switch opcode {
            case 8:
                let code = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil
                return .close(code: code, reason: Array(payload.dropFirst(2)).text)
            case 9:
                connection.send(Self.frame(opcode: 10, payload))  // the server pings every 30 s, and closes unanswered
                continue
            case 10:
                continue
            case 0:
                fragments += payload
            default:
                fragmentsOpcode = opcode
                fragments = payload
            }
            guard final else { continue }
            guard let kind = fragmentsOpcode else { throw Failure(description: "a continuation frame first") }
            return kind == 1 ? .text(fragments.text) : .binary(fragments)
        }
    }

    /// The next text message, skipping other data; nil when the stream closed or ended first.
    func nextText() throws -> String? {
        while let message = try receive() {
            switch message {
            case let .text(text): return text
            case .binary: continue
            case .close: return nil
            }
        }
        return nil
    }

    /// The code and reason of the server's close frame, skipping the messages before it; nil when the connection
    /// ended without one.
    func closing() throws -> (code: Int?, reason: String)? {
        while let message = try receive() {
            if case let .close(code, reason) = message { return (code, reason) }
        }
        return nil
    }

    /// The next frame (final bit, opcode, unmasked payload); nil when the connection ended first.
    private func nextFrame() throws -> (final: Bool, opcode: UInt8, payload: [UInt8])? {
        while true {
            if let frame = try Self.parseFrame(&buffered) { return frame }
            let read = connection.receive { !$0.isEmpty }
            if read.bytes.isEmpty {
                guard read.closed else { throw Failure(description: "no frame within the read timeout") }
                return nil
            }
            buffered += read.bytes
        }
    }

    /// Removes the first whole frame from `bytes` and returns it; nil when `bytes` holds no whole frame yet.
    static func parseFrame(_ bytes: inout [UInt8]) throws -> (final: Bool, opcode: UInt8, payload: [UInt8])? {
        guard bytes.count >= 2 else { return nil }
        var length = Int(bytes[1] & 0x7F)
        var position = 2
        if length >= 126 {
            let extra = length == 126 ? 2 : 8
            guard bytes.count >= 2 + extra else { return nil }
            length = bytes[2..<2 + extra].reduce(0) { $0 << 8 | Int($1) }
            position += extra
        }
        let masked = bytes[1] & 0x80 != 0
        let mask = masked ? Array(bytes[position..<min(position + 4, bytes.count)]) : []
        if masked { position += 4 }
        guard bytes.count >= position + length else { return nil }
        var payload = Array(bytes[position..<position + length])
        if masked { payload = payload.enumerated().map { $0.element ^ mask[$0.offset % 4] } }
        let frame = (final: bytes[0] & 0x80 != 0, opcode: bytes[0] & 0x0F, payload: payload)
        bytes.removeFirst(position + length)
        return frame
    }
}
