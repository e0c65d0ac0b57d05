import EmovereCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin

#elseif canImport(Musl)

import Musl
#endif

/// Reads the original `fer2013.csv` (header `emotion,pixels,Usage`; each `pixels` field holds
/// `imageSize * imageSize` space-separated values 0-255).
///
/// Also accepts files without a `Usage` column (every row is then loaded), extra columns,
/// fields wrapped in quotes or whitespace, CRLF line endings, and a file without a header
/// (columns then positional: emotion, pixels, Usage). Every row must have as many fields as the header (or, without
/// one, the first row): a row with a Usage the header lacks would otherwise be loaded into every split. Malformed rows
/// are skipped and listed in the `LoadReport` with their line number, or, when `strict`, the first one is thrown.
/// Rows whose `Usage` names another split are passed over without validating their pixels.
/// The file is scanned as bytes, without creating strings per row or per pixel.
public struct FER2013CSVLoader: Sendable {
    /// The side length of the images (48 for FER2013).
    public var imageSize: Int
    /// Throw `DataError.malformed` at the first malformed row instead of skipping it.
    public var strict: Bool

    /// Creates a loader.
    public init(imageSize: Int = 48, strict: Bool = false) {
        self.imageSize = imageSize
        self.strict = strict
    }

    /// Loads the rows of `split` from the CSV file at `path`.
    public func load(path: String, split: Split) throws(DataError) -> (FaceDataset, LoadReport) {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.bytes(atPath: path)
        } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
        return try load(bytes: bytes, name: path, split: split)
    }

    /// Loads the rows of `split` from CSV text held in memory; `name` is used in locations and errors.
    public func load(bytes: [UInt8], name: String, split: Split) throws(DataError) -> (FaceDataset, LoadReport) {
        guard imageSize > 0 else {
            throw .invalidArgument(name: "image size", expected: "a positive number of pixels", found: "\(imageSize)")
        }
        var result: Result<(FaceDataset, LoadReport), DataError> = .failure(.noImages(path: name, split: split, reason: "empty file"))
        bytes.withUnsafeBufferPointer { buffer in
            result = Result { () throws(DataError) in try parse(buffer, name: name, split: split) }
        }
        return try result.get()
    }

    // MARK: - Parsing

    private struct Columns {
        var emotion = 0
        var pixels = 1
        var usage: Int? = 2
        /// The fields of every row: the header's (or the first row's).
        var count = 3
        /// Whether a header named the columns.
        var named = true
    }

    private static let comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
    private static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), quote = UInt8(ascii: "\"")
    private static let zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")

    private static func isPadding(_ byte: UInt8) -> Bool {
        byte == space || byte == tab || byte == quote || byte == carriageReturn || byte == UInt8(ascii: "'")
    }

    /// `start..<end` without surrounding whitespace and quotes.
    private static func trimmed(_ base: UnsafePointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound, upper = range.upperBound
        while lower < upper, isPadding(base[lower]) { lower += 1 }
        while upper > lower, isPadding(base[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    private static func text(_ base: UnsafePointer<UInt8>, _ range: Range<Int>, limit: Int = 40) -> String {
        let clipped = range.lowerBound..<min(range.upperBound, range.lowerBound + limit)
        let string = String(decoding: UnsafeBufferPointer(start: base + clipped.lowerBound, count: clipped.count), as: UTF8.self)
        return clipped.count < range.count ? string + "..." : string
    }

    private func parse(_ buffer: UnsafeBufferPointer<UInt8>, name: String,
                       split: Split) throws(DataError) -> (FaceDataset, LoadReport) {
        let perImage = imageSize * imageSize
        guard let base = buffer.baseAddress, !buffer.isEmpty else {
            throw .noImages(path: name, split: split, reason: "the file is empty (expected a header emotion,pixels,Usage and rows)")
        }
        let end = buffer.count
        var position = 0
        var lineNumber = 0
        var notes: [String] = []
        var issues: [LoadIssue] = []
        var pixels: [UInt8] = []
        var labels: [Int] = []
        var scratch = [UInt8](repeating: 0, count: perImage)
        var fields: [Range<Int>] = []
        fields.reserveCapacity(8)
        var columns = Columns()
        var sawHeader = false

        // Skip a UTF-8 byte-order mark.
        if end >= 3, base[0] == 0xEF, base[1] == 0xBB, base[2] == 0xBF { position = 3 }
        if memchr(base, Int32(Self.newline), end) == nil, memchr(base, Int32(Self.carriageReturn), end) != nil {
            throw .unreadable(path: name, reason: "its lines end in a carriage return alone (classic Mac OS); expected "
                                  + "line feeds (LF) or CRLF")
        }

        while position < end {
            lineNumber += 1
            let lineStart = position
            let lineEnd: Int
            let hasNewline: Bool
            if let found = memchr(base + position, Int32(Self.newline), end - position) {
                lineEnd = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                hasNewline = true
            } else {
                lineEnd = end
                hasNewline = false
            }
            position = lineEnd + 1
            var contentEnd = lineEnd
            if contentEnd > lineStart, base[contentEnd - 1] == Self.carriageReturn { contentEnd -= 1 }
            if Self.trimmed(base, lineStart..<contentEnd).isEmpty { continue } // blank line

            fields.removeAll(keepingCapacity: true)
            var fieldStart = lineStart
            while let found = memchr(base + fieldStart, Int32(Self.comma), contentEnd - fieldStart) {
                let comma = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                fields.append(fieldStart..<comma)
                fieldStart = comma + 1
            }
            fields.append(fieldStart..<contentEnd)

            if !sawHeader {
                sawHeader = true
                let first = Self.trimmed(base, fields[0])
                if first.isEmpty || !(Self.zero...Self.nine).contains(base[first.lowerBound]) {
                    columns = try headerColumns(base, fields, line: lineStart..<contentEnd, name: name)
                    if columns.usage == nil {
                        notes.append("\(name) has no Usage column: every row is loaded as \(split.usage)")
                    }
                    continue
                }
                // No header: positional columns, Usage present only if the first row has a third field.
                let count = Self.significantCount(base, fields)
                guard count >= 2 else {
                    throw .csvHeader(path: name, expected: "emotion,pixels,Usage (or, without a header, rows of emotion,pixels[,Usage])",
                                     found: Self.text(base, lineStart..<contentEnd, limit: 120))
                }
                columns = Columns(emotion: 0, pixels: 1, usage: count >= 3 ? 2 : nil, count: count, named: false)
                notes.append("\(name) has no header line: columns read as emotion,pixels\(columns.usage == nil ? "" : ",Usage")")
            }

            let location = "\(Self.fileName(name)):\(lineNumber)"
            func problem(_ reason: String) throws(DataError) {
                let suffix = hasNewline ? "" : " (last line has no line ending: truncated file?)"
                let issue = LoadIssue(location: location, reason: reason + suffix)
                if strict { throw .malformed(issue) }
                issues.append(issue)
            }

            guard Self.significantCount(base, fields) == columns.count || fields.count == columns.count else {
                try problem("expected \(columns.count) fields, as the \(columns.named ? "header has" : "first row has (no header)"), found \(fields.count)")
                continue
            }
            if let usageColumn = columns.usage {
                let usage = Self.trimmed(base, fields[usageColumn])
                guard let rowSplit = Self.split(base, usage) else {
                    try problem("unknown Usage '\(Self.text(base, usage))', expected Training, PublicTest or PrivateTest")
                    continue
                }
                if rowSplit != split { continue }
            }
            let labelRange = Self.trimmed(base, fields[columns.emotion])
            var label = -1
            if labelRange.count == 1, (Self.zero...Self.zero + 6).contains(base[labelRange.lowerBound]) {
                label = Int(base[labelRange.lowerBound] - Self.zero)
            }
            guard label >= 0 else {
                try problem("emotion label '\(Self.text(base, labelRange))' is not an index 0-6")
                continue
            }
            let pixelRange = Self.trimmed(base, fields[columns.pixels])
            let failure: String? = scratch.withUnsafeMutableBufferPointer { destination in
                Self.parsePixels(base, pixelRange, into: destination.baseAddress!, count: perImage) // non-empty scratch
            }
            if let failure {
                try problem(failure)
                continue
            }
            pixels.append(contentsOf: scratch)
            labels.append(label)
        }
        if !sawHeader {
            throw .noImages(path: name, split: split, reason: "the file holds only blank lines")
        }
        let dataset = FaceDataset(imageSize: imageSize, pixels: pixels, labels: labels)
        let report = LoadReport(source: name, loaded: dataset.count, skipped: issues, notes: notes,
                                readsEverySplit: columns.usage == nil)
        if dataset.count == 0 {
            let reason = issues.isEmpty
                ? "no row has Usage \(split.usage)"
                : "every \(split.usage) row was malformed (\(issues.count) skipped, first: \(issues[0]))"
            throw .noImages(path: name, split: split, reason: reason)
        }
        return (dataset, report)
    }

    /// The number of `fields` up to the last that is not empty: a trailing comma (some exports end every line, or only
    /// the header, with one) adds no column.
    private static func significantCount(_ base: UnsafePointer<UInt8>, _ fields: [Range<Int>]) -> Int {
        var count = fields.count
        while count > 0, trimmed(base, fields[count - 1]).isEmpty { count -= 1 }
        return count
    }

    private static func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    private static func split(_ base: UnsafePointer<UInt8>, _ range: Range<Int>) -> Split? {
        guard range.count >= 8, range.count <= 11 else { return nil }
        return Split(usage: String(decoding: UnsafeBufferPointer(start: base + range.lowerBound, count: range.count), as: UTF8.self))
    }

    private func headerColumns(_ base: UnsafePointer<UInt8>, _ fields: [Range<Int>], line: Range<Int>,
                               name: String) throws(DataError) -> Columns {
        let names = fields.map { Self.text(base, Self.trimmed(base, $0), limit: 64).lowercased() }
        guard let emotion = names.firstIndex(of: "emotion"), let pixels = names.firstIndex(of: "pixels") else {
            throw .csvHeader(path: name, expected: "emotion,pixels,Usage", found: Self.text(base, line, limit: 120))
        }
        if let twice = ["emotion", "pixels", "usage"].first(where: { column in names.filter { $0 == column }.count > 1 }) {
            throw .csvHeader(path: name, expected: "emotion,pixels,Usage, each once (the column '\(twice)' is there twice)",
                             found: Self.text(base, line, limit: 120))
        }
        return Columns(emotion: emotion, pixels: pixels, usage: names.firstIndex(of: "usage"),
                       count: Self.significantCount(base, fields))
    }

    /// Parses `count` space-separated values 0-255 into `destination`; returns why it failed, or nil.
    private static func parsePixels(_ base: UnsafePointer<UInt8>, _ range: Range<Int>,
                                    into destination: UnsafeMutablePointer<UInt8>, count: Int) -> String? {
        var index = range.lowerBound
        let end = range.upperBound
        var found = 0
        while index < end {
            let byte = base[index]
            if byte == space || byte == tab {
                index &+= 1
                continue
            }
            let tokenStart = index
            var value = 0
            var digits = 0
            let negative = base[index] == UInt8(ascii: "-")
            if negative { index &+= 1 }
            while index < end {
                let digit = base[index] &- zero
                if digit > 9 { break }
                value = min(value &* 10 &+ Int(digit), 1_000)  // capped: leading zeros pass, overflow cannot happen
                digits &+= 1
                index &+= 1
            }
            if digits == 0 || (index < end && base[index] != space && base[index] != tab) {
                var tokenEnd = tokenStart
                while tokenEnd < end, base[tokenEnd] != space, base[tokenEnd] != tab { tokenEnd += 1 }
                return "non-numeric pixel value '\(text(base, tokenStart..<tokenEnd))' (pixel \(found + 1))"
            }
            if negative || value > 255 {
                return "pixel \(found + 1) is \(text(base, tokenStart..<index)), expected 0-255"
            }
            if found < count { destination[found] = UInt8(truncatingIfNeeded: value) }
            found &+= 1
        }
        return found == count ? nil : "expected \(count) pixels, found \(found)"
    }
}
