/// A minimal XML reader for OpenCV `FileStorage` documents (the format of Haar cascade files).
///
/// It builds a small element tree: element names, attributes, child elements and the concatenated character data of
/// each element. It understands the XML declaration, comments, processing instructions, CDATA sections,
/// self-closing tags and the five predefined entities. DTDs and other entities are rejected. Every error
/// carries the 1-based line number where the problem was found.
struct HaarXMLElement: Sendable {
    var name: String
    var attributes: [String: String]
    var children: [HaarXMLElement]
    var text: String
    /// 1-based line of the element's start tag.
    var line: Int

    /// The first child element named `name`, if any.
    func child(_ name: String) -> HaarXMLElement? {
        children.first { $0.name == name }
    }
}

/// A syntax error in an XML document, with its 1-based line number.
struct HaarXMLSyntaxError: Error, Sendable {
    var line: Int
    var message: String
}

enum HaarXMLReader {
    /// Parses `bytes` as an XML document and returns its root element.
    static func parse(_ bytes: [UInt8]) throws(HaarXMLSyntaxError) -> HaarXMLElement {
        var parser = Parser(bytes: bytes)
        return try parser.parseDocument()
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        private static let lessThan = UInt8(ascii: "<")
        private static let greaterThan = UInt8(ascii: ">")
        private static let slash = UInt8(ascii: "/")
        private static let newline = UInt8(ascii: "\n")

        private func error(_ message: String) -> HaarXMLSyntaxError {
            HaarXMLSyntaxError(line: line, message: message)
        }

        private func starts(with literal: String) -> Bool {
            let utf8 = Array(literal.utf8)
            guard index + utf8.count <= bytes.count else { return false }
            for offset in 0..<utf8.count where bytes[index + offset] != utf8[offset] {
                return false
            }
            return true
        }

        /// Advances past `count` bytes, counting newlines.
        private mutating func advance(_ count: Int) {
            let end = min(index + count, bytes.count)
            while index < end {
                if bytes[index] == Self.newline { line += 1 }
                index += 1
            }
        }

        /// Skips to just after the next occurrence of `terminator`; fails naming `construct` when it is missing.
        private mutating func skip(past terminator: String, construct: String) throws(HaarXMLSyntaxError) {
            let startLine = line
            while index < bytes.count {
                if starts(with: terminator) {
                    advance(terminator.utf8.count)
                    return
                }
                advance(1)
            }
            throw HaarXMLSyntaxError(line: startLine, message: "unterminated \(construct): expected '\(terminator)' before the end of the file")
        }

        private static func isSpace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
        }

        private static func isNameByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"),
                 UInt8(ascii: "."), UInt8(ascii: ":"):
                return true
            default:
                return byte >= 0x80
            }
        }

        private mutating func skipSpaces() {
            while index < bytes.count, Self.isSpace(bytes[index]) { advance(1) }
        }

        private mutating func readName() throws(HaarXMLSyntaxError) -> String {
            let start = index
            while index < bytes.count, Self.isNameByte(bytes[index]) { index += 1 }
            guard index > start else {
                let found = index < bytes.count ? "'\(Character(Unicode.Scalar(bytes[index])))'" : "end of file"
                throw error("expected an element or attribute name, found \(found)")
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// Skips the prolog items allowed before and after the root element: whitespace, comments, processing
        /// instructions and the XML declaration.
        private mutating func skipMisc() throws(HaarXMLSyntaxError) {
            while true {
                skipSpaces()
                if starts(with: "<?") {
                    try skip(past: "?>", construct: "processing instruction")
                } else if starts(with: "<!--") {
                    try skip(past: "-->", construct: "comment")
                } else if starts(with: "<!DOCTYPE") || starts(with: "<!doctype") {
                    throw error("document type declarations are not supported")
                } else {
                    return
                }
            }
        }

        mutating func parseDocument() throws(HaarXMLSyntaxError) -> HaarXMLElement {
            // Skip a UTF-8 byte-order mark.
            if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
            try skipMisc()
            guard index < bytes.count else { throw error("expected a root element, found an empty document") }
            guard bytes[index] == Self.lessThan else {
                throw error("expected '<' to open the root element, found text")
            }
            let root = try parseElement(depth: 0)
            try skipMisc()
            guard index == bytes.count else { throw error("unexpected content after the root element") }
            return root
        }

        private mutating func parseAttributeValue() throws(HaarXMLSyntaxError) -> String {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                throw error("expected a quoted attribute value")
            }
            let quote = bytes[index]
            advance(1)
            let start = index
            while index < bytes.count, bytes[index] != quote { advance(1) }
            guard index < bytes.count else { throw error("unterminated attribute value") }
            let raw = String(decoding: bytes[start..<index], as: UTF8.self)
            advance(1)
            return try Self.decodeEntities(raw, line: line)
        }

        private mutating func parseElement(depth: Int) throws(HaarXMLSyntaxError) -> HaarXMLElement {
            guard depth < 64 else { throw error("elements nested deeper than 64 levels") }
            let startLine = line
            advance(1) // '<'
            let name = try readName()
            var attributes: [String: String] = [:]
            while true {
                skipSpaces()
                guard index < bytes.count else { throw error("unterminated start tag <\(name)>") }
                if bytes[index] == Self.slash {
                    advance(1)
                    guard index < bytes.count, bytes[index] == Self.greaterThan else {
                        throw error("expected '>' after '/' in tag <\(name)>")
                    }
                    advance(1)
                    return HaarXMLElement(name: name, attributes: attributes, children: [], text: "", line: startLine)
                }
                if bytes[index] == Self.greaterThan {
                    advance(1)
                    break
                }
                let attributeName = try readName()
                skipSpaces()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else {
                    throw error("expected '=' after attribute '\(attributeName)' in tag <\(name)>")
                }
                advance(1)
                skipSpaces()
                attributes[attributeName] = try parseAttributeValue()
            }

            var children: [HaarXMLElement] = []
            var text = ""
            while true {
                let textStart = index
                while index < bytes.count, bytes[index] != Self.lessThan { advance(1) }
                if index > textStart {
                    text += try Self.decodeEntities(String(decoding: bytes[textStart..<index], as: UTF8.self), line: line)
                }
                guard index < bytes.count else {
                    throw HaarXMLSyntaxError(line: startLine, message: "element <\(name)> is never closed (expected </\(name)>)")
                }
                if starts(with: "</") {
                    advance(2)
                    let closing = try readName()
                    guard closing == name else {
                        throw error("mismatched closing tag: expected </\(name)> (opened on line \(startLine)), found </\(closing)>")
                    }
                    skipSpaces()
                    guard index < bytes.count, bytes[index] == Self.greaterThan else {
                        throw error("expected '>' to end the closing tag </\(name)>")
                    }
                    advance(1)
                    return HaarXMLElement(name: name, attributes: attributes, children: children, text: text, line: startLine)
                } else if starts(with: "<!--") {
                    try skip(past: "-->", construct: "comment")
                } else if starts(with: "<![CDATA[") {
                    advance(9)
                    let cdataStart = index
                    try skip(past: "]]>", construct: "CDATA section")
                    text += String(decoding: bytes[cdataStart..<(index - 3)], as: UTF8.self)
                } else if starts(with: "<?") {
                    try skip(past: "?>", construct: "processing instruction")
                } else if starts(with: "<!") {
                    throw error("unsupported markup declaration inside <\(name)>")
                } else {
                    children.append(try parseElement(depth: depth + 1))
                }
            }
        }

        private static func decodeEntities(_ raw: String, line: Int) throws(HaarXMLSyntaxError) -> String {
            guard raw.contains("&") else { return raw }
            var result = ""
            var remainder = Substring(raw)
            while let ampersand = remainder.firstIndex(of: "&") {
                result += remainder[..<ampersand]
                guard let semicolon = remainder[ampersand...].firstIndex(of: ";") else {
                    throw HaarXMLSyntaxError(line: line, message: "unterminated entity reference")
                }
                let entity = remainder[remainder.index(after: ampersand)..<semicolon]
                switch entity {
                case "lt": result += "<"
                case "gt": result += ">"
                case "amp": result += "&"
                case "quot": result += "\""
                case "apos": result += "'"
                default:
                    if entity.hasPrefix("#x"), let value = UInt32(entity.dropFirst(2), radix: 16),
                       let scalar = Unicode.Scalar(value) {
                        result.unicodeScalars.append(scalar)
                    } else if entity.hasPrefix("#"), let value = UInt32(entity.dropFirst()),
                              let scalar = Unicode.Scalar(value) {
                        result.unicodeScalars.append(scalar)
                    } else {
                        throw HaarXMLSyntaxError(line: line, message: "unknown entity '&\(entity);'")
                    }
                }
                remainder = remainder[remainder.index(after: semicolon)...]
            }
            result += remainder
            return result
        }
    }
}
