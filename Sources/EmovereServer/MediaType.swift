/// A parsed `Content-Type` value: `type/subtype` in lower case and its parameters (names in lower case, values
/// unquoted).
struct MediaType: Equatable, Sendable {
    var essence: String
    var parameters: [String: String]

    /// Parses `text` (`image/jpeg`, `multipart/form-data; boundary="x"`); nil when it has no `type/subtype`.
    init?(_ text: String) {
        let (head, parameters) = Self.split(text)
        guard head.contains("/"), !head.hasPrefix("/"), !head.hasSuffix("/") else { return nil }
        self.essence = head
        self.parameters = parameters
    }

    /// Splits a header value such as `form-data; name="file"; filename="a.jpg"` into its lower-cased first item
    /// and its parameters.
    static func split(_ text: String) -> (head: String, parameters: [String: String]) {
        var pieces = Self.pieces(of: text).makeIterator()
        let head = pieces.next()?.trimmingWhitespace().lowercased() ?? ""
        var parameters: [String: String] = [:]
        while let piece = pieces.next() {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            let name = piece[..<equals].trimmingWhitespace().lowercased()
            var value = Substring(piece[piece.index(after: equals)...].trimmingWhitespace())
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = value.dropFirst().dropLast() }
            parameters[name] = String(value)
        }
        return (head, parameters)
    }

    /// `text` cut at each `;` outside a quoted string (`filename="a;b.jpg"` stays whole).
    private static func pieces(of text: String) -> [Substring] {
        var pieces: [Substring] = []
        var start = text.startIndex
        var quoted = false
        var escaped = false
        for index in text.indices {
            switch text[index] {
            case _ where escaped: escaped = false
            case "\\" where quoted: escaped = true
            case "\"": quoted.toggle()
            case ";" where !quoted:
                pieces.append(text[start..<index])
                start = text.index(after: index)
            default: break
            }
        }
        pieces.append(text[start...])
        return pieces
    }

    /// Media types accepted as a JPEG or PNG upload.
    static let imageEssences: Set<String> = ["image/jpeg", "image/jpg", "image/pjpeg", "image/png"]
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (found among its UTF-8 bytes, a byte each, not among its characters).
    func trimmingWhitespace() -> String {
        let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isBlank($0) }),
              let last = bytes.lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
