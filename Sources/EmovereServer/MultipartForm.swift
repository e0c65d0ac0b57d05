/// One part of a `multipart/form-data` body (RFC 7578): its form field name, file name, media type and bytes.
struct MultipartPart: Sendable, Equatable {
    var name: String?
    var fileName: String?
    var contentType: String?
    var body: ArraySlice<UInt8>
}

/// A minimal `multipart/form-data` reader: enough for browsers' and curl's file uploads (`-F file=@photo.jpg`).
enum MultipartForm {
    /// The most parts a form may have: an upload is one file and perhaps a few fields, and a body of empty parts
    /// (11 bytes each) would otherwise cost about 170 MB of part records per 10 MB.
    static let maximumParts = 64
    /// The longest header block a part may have (a browser's is under 200 bytes): a block as long as the body cost
    /// many times its size in text work.
    static let maximumHeaderBytes = 8192
    /// How much of a client's name for a field or file an error message quotes.
    static let quotedNameLength = 100

    /// The parts of `body` delimited by `boundary`.
    /// - Throws: ``ServerError/malformedRequest(_:)`` when the body does not follow the multipart syntax or has more
    ///   than ``maximumParts`` parts.
    static func parts(of body: [UInt8], boundary: String) throws(ServerError) -> [MultipartPart] {
        guard !boundary.isEmpty, boundary.utf8.count <= 200 else {
            throw .malformedRequest("multipart/form-data needs a boundary parameter of 1 to 200 characters, received '\(boundary)'")
        }
        let delimiter = Array("--\(boundary)".utf8)
        let separator = Array("\r\n--\(boundary)".utf8)
        guard var position = find(delimiter, in: body, from: 0) else {
            throw .malformedRequest("multipart body does not contain its boundary '--\(boundary)'")
        }
        position += delimiter.count
        var parts: [MultipartPart] = []
        while true {
            if body[position...].starts(with: Array("--".utf8)) { return parts }
            guard body[position...].starts(with: Array("\r\n".utf8)) else {
                throw .malformedRequest("multipart boundary not followed by CRLF at byte \(position)")
            }
            position += 2
            guard parts.count < maximumParts else {
                throw .malformedRequest("multipart form has more than \(maximumParts) parts; expected one file and at most a few fields")
            }
            let headerWindow = Array(body[position..<min(body.count, position + maximumHeaderBytes + 4)])
            guard let blankLine = find(Array("\r\n\r\n".utf8), in: headerWindow, from: 0) else {
                throw .malformedRequest(headerWindow.count > maximumHeaderBytes
                    ? "multipart part at byte \(position) has headers longer than \(maximumHeaderBytes) bytes"
                    : "multipart part at byte \(position) has no blank line after its headers")
            }
            let headerEnd = position + blankLine
            var part = MultipartPart(body: [])
            let headerText = String(decoding: body[position..<headerEnd], as: UTF8.self)
            for line in headerText.split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else {
                    throw .malformedRequest("multipart header line without a colon: '\(line.prefix(80))'")
                }
                let name = line[..<colon].trimmingWhitespace().lowercased()
                let value = line[line.index(after: colon)...].trimmingWhitespace()
                if name == "content-type" {
                    part.contentType = value
                } else if name == "content-disposition" {
                    let parameters = MediaType.split(value).parameters
                    part.name = parameters["name"]
                    part.fileName = parameters["filename"]
                }
            }
            let contentStart = headerEnd + 4
            guard let contentEnd = find(separator, in: body, from: contentStart) else {
                throw .malformedRequest("multipart part '\(part.name.map { String($0.prefix(quotedNameLength)) } ?? "?")' is not closed by '--\(boundary)'")
            }
            part.body = body[contentStart..<contentEnd]
            parts.append(part)
            position = contentEnd + separator.count
            guard position + 2 <= body.count else {
                throw .malformedRequest("multipart body ends right after a boundary; expected '--' or CRLF")
            }
        }
    }

    /// The index of the first occurrence of `needle` in `haystack` at or after `start`, in time linear in their
    /// lengths (Knuth-Morris-Pratt: the client picks the boundary, and a naive search of a 200-byte boundary that
    /// nearly matches everywhere costs 200 comparisons per body byte).
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count - start >= needle.count else { return nil }
        // fallback[i]: the length of the longest proper prefix of needle[0...i] that is also its suffix.
        var fallback = [Int](repeating: 0, count: needle.count)
        var length = 0
        for index in 1..<needle.count {
            while length > 0 && needle[index] != needle[length] { length = fallback[length - 1] }
            if needle[index] == needle[length] { length += 1 }
            fallback[index] = length
        }
        var matched = 0
        for index in start..<haystack.count {
            while matched > 0 && haystack[index] != needle[matched] { matched = fallback[matched - 1] }
            if haystack[index] == needle[matched] { matched += 1 }
            if matched == needle.count { return index - needle.count + 1 }
        }
        return nil
    }
}
