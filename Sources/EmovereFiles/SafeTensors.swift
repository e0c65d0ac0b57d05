import EmovereCore
import Foundation

// The safetensors layout (https://github.com/huggingface/safetensors):
//
//   [8 bytes]  N, the header length, unsigned 64-bit little-endian
//   [N bytes]  UTF-8 JSON object, padded with spaces:
//                {"__metadata__": {"key": "value", ...},
//                 "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//   [rest]     the data section: each tensor's row-major little-endian elements at
//              data_offsets relative to the start of this section, with no gaps and no overlaps.

/// A dense array of `Float` values and its shape, as stored in one safetensors entry.
///
/// The invariant `values.count == shape.reduce(1, *)` always holds: the initializer checks it,
/// and the properties cannot be set separately. An empty shape is a scalar (one value).
public struct NamedArray: Equatable, Sendable {
    /// The extent of each dimension, outermost first (row-major).
    public let shape: [Int]
    /// The elements in row-major order.
    public let values: [Float]

    /// Creates an array, checking that `values` holds exactly as many elements as `shape` describes.
    ///
    /// - Throws: `SafeTensorsError.invalidShape` for a negative dimension or an overflowing
    ///   element count, `SafeTensorsError.valueCountMismatch` when the counts differ.
    public init(shape: [Int], values: [Float]) throws(SafeTensorsError) {
        guard let expected = NamedArray.elementCount(of: shape) else {
            throw .invalidShape(source: "<memory>", tensor: "<unnamed>", shape: shape)
        }
        guard expected == values.count else {
            throw .valueCountMismatch(shape: shape, expectedCount: expected, foundCount: values.count)
        }
        self.shape = shape
        self.values = values
    }

    /// Creates an array whose invariant the caller has already established.
    init(checkedShape shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    /// The number of elements, the product of the dimensions (1 for a scalar).
    public var elementCount: Int { values.count }

    /// The product of `shape`, or nil when a dimension is negative or the product overflows.
    static func elementCount(of shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }
}

/// The contents of a safetensors file: named `Float` arrays plus string metadata.
///
/// Reading accepts the dtypes F32, F16, BF16 and F64 and converts them to `Float`; writing
/// always stores F32. Serialization is deterministic: the compact JSON header lists `__metadata__`
/// (sorted by key, omitted when empty) and then the tensors sorted by name, whose data follow in
/// the same order.
public struct SafeTensorsFile: Equatable, Sendable {
    /// The arrays, keyed by tensor name.
    public var tensors: [String: NamedArray]
    /// Free-form string metadata (the header's `__metadata__` object).
    public var metadata: [String: String]
    /// Where the contents came from (a path, or `<memory>`), used in error messages.
    /// It is not part of equality.
    public var source: String

    /// Creates a file's contents in memory.
    public init(tensors: [String: NamedArray] = [:], metadata: [String: String] = [:], source: String = "<memory>") {
        self.tensors = tensors
        self.metadata = metadata
        self.source = source
    }

    /// Two files are equal when their tensors and metadata are; `source` is ignored.
    public static func == (lhs: SafeTensorsFile, rhs: SafeTensorsFile) -> Bool {
        lhs.tensors == rhs.tensors && lhs.metadata == rhs.metadata
    }

    /// Parses and validates the bytes of a safetensors file.
    ///
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - source: The name to use in error messages, usually the path.
    /// - Throws: `SafeTensorsError` naming `source` when the bytes are not a well-formed
    ///   safetensors file: too short, a header length past the end, a header that is not a JSON
    ///   object, a missing or malformed `dtype`/`shape`/`data_offsets`, an unsupported dtype,
    ///   offsets out of range, overlapping or not matching the shape, or trailing bytes.
    public init(bytes: [UInt8], source: String = "<memory>") throws(SafeTensorsError) {
        self = try SafeTensorsParser(bytes: bytes, source: source).parse()
    }

    /// Reads, parses and validates the safetensors file at `path`.
    ///
    /// - Throws: `SafeTensorsError.readFailed` when the file cannot be read, or any error of
    ///   `init(bytes:source:)` with `path` as the source.
    public init(contentsOf path: String) throws(SafeTensorsError) {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.bytes(atPath: path)
        } catch {
            throw .readFailed(path: path, reason: error.reason)
        }
        try self.init(bytes: bytes, source: path)
    }

    /// The array named `name`.
    ///
    /// - Throws: `SafeTensorsError.missingTensor`, listing the names that do exist.
    public func tensor(named name: String) throws(SafeTensorsError) -> NamedArray {
        guard let array = tensors[name] else {
            throw .missingTensor(source: source, name: name, available: tensors.keys.sorted())
        }
        return array
    }

    /// The file's bytes: F32 tensors sorted by name, header padded with spaces to a multiple of 8.
    ///
    /// - Throws: `SafeTensorsError.invalidTensorName` for an empty name or `__metadata__`.
    public func serialized() throws(SafeTensorsError) -> [UInt8] {
        let entries = tensors.sorted { $0.key < $1.key }
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }
                .map { "\(SafeTensorsJSONText.quoted($0.key)):\(SafeTensorsJSONText.quoted($0.value))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (name, array) in entries {
            guard !name.isEmpty, name != SafeTensorsParser.metadataKey else { throw .invalidTensorName(name: name) }
            let end = offset + array.values.count * MemoryLayout<Float>.size
            let shape = array.shape.map(String.init).joined(separator: ",")
            fields.append("\(SafeTensorsJSONText.quoted(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: header)
        for (_, array) in entries {
            #if _endian(little)
            array.values.withUnsafeBytes { bytes.append(contentsOf: $0) }  // the file's byte order already
            #else
            for value in array.values {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
            #endif
        }
        return bytes
    }

    /// Writes the file to `path` atomically: the bytes go to a temporary file in the same
    /// directory, which is flushed with `fsync` and then renamed over `path`, so readers see either
    /// the old file or the complete new one.
    ///
    /// With `replaced`, a file at `path` that is no longer the one read with that identity is refused
    /// (`AtomicFile.write(_:to:replacing:)`).
    ///
    /// - Throws: `SafeTensorsError.writeFailed` naming the failing step, or any error of `serialized()`.
    public func write(to path: String, replacing replaced: FileIdentity? = nil) throws(SafeTensorsError) {
        let bytes = try serialized()
        do {
            try AtomicFile.write(bytes, to: path, replacing: replaced)
        } catch {
            throw .writeFailed(path: path, operation: error.operation, reason: error.reason)
        }
    }
}

// MARK: - Parsing

/// The element types a safetensors file may declare that this reader converts to `Float`.
enum SafeTensorsDataType: String {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case float64 = "F64"

    /// Bytes per element.
    var size: Int {
        switch self {
        case .float32: 4
        case .float16, .bfloat16: 2
        case .float64: 8
        }
    }
}

/// Parses one safetensors byte buffer.
struct SafeTensorsParser {
    static let metadataKey = "__metadata__"

    let bytes: [UInt8]
    let source: String

    /// One validated header entry.
    private struct Entry {
        let name: String
        let dataType: SafeTensorsDataType
        let shape: [Int]
        let elementCount: Int
        let begin: Int
        let end: Int
    }

    func parse() throws(SafeTensorsError) -> SafeTensorsFile {
        guard bytes.count >= 8 else { throw .fileTooShort(source: source, byteCount: bytes.count) }
        var headerLength: UInt64 = 0
        for index in 0..<8 { headerLength |= UInt64(bytes[index]) << (8 * UInt64(index)) }
        let available = bytes.count - 8
        guard headerLength <= UInt64(available) else {
            throw .headerLengthExceedsFile(source: source, headerLength: headerLength, availableBytes: available)
        }
        let dataStart = 8 + Int(headerLength)
        let root = try decodeHeader(bytes[8..<dataStart])
        guard case let .object(fields) = root else {
            throw .invalidHeader(source: source, reason: "expected a JSON object at the top level, found \(root.kindDescription)")
        }

        let dataSize = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for name in fields.keys.sorted() {
            guard let value = fields[name] else { continue }
            if name == Self.metadataKey {
                metadata = try parseMetadata(value)
            } else {
                entries.append(try parseEntry(name: name, value: value, dataSize: dataSize))
            }
        }
        try checkLayout(entries, dataSize: dataSize)

        var tensors: [String: NamedArray] = [:]
        tensors.reserveCapacity(entries.count)
        for entry in entries {
            let values = decodeValues(entry, dataStart: dataStart)
            tensors[entry.name] = NamedArray(checkedShape: entry.shape, values: values)
        }
        return SafeTensorsFile(tensors: tensors, metadata: metadata, source: source)
    }

    private func decodeHeader(_ headerBytes: ArraySlice<UInt8>) throws(SafeTensorsError) -> JSONValue {
        guard String(bytes: headerBytes, encoding: .utf8) != nil else {
            throw .invalidHeader(source: source, reason: "expected UTF-8 JSON, found invalid UTF-8")
        }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(headerBytes))
        } catch {
            throw .invalidHeader(source: source, reason: "expected valid JSON, found a parse error (\(Self.describe(error)))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        guard let decodingError = error as? DecodingError else { return String(describing: error) }
        switch decodingError {
        case let .dataCorrupted(context):
            if let underlying = context.underlyingError { return "\(context.debugDescription) \(underlying)" }
            return context.debugDescription
        default:
            return String(describing: decodingError)
        }
    }

    private func parseMetadata(_ value: JSONValue) throws(SafeTensorsError) -> [String: String] {
        switch value {
        case .null:
            return [:]
        case let .object(fields):
            var metadata: [String: String] = [:]
            for key in fields.keys.sorted() {
                guard case let .string(text)? = fields[key] else {
                    throw .invalidField(source: source, tensor: Self.metadataKey, field: key,
                                        expected: "a string value", found: fields[key]?.kindDescription ?? "nothing")
                }
                metadata[key] = text
            }
            return metadata
        default:
            throw .invalidField(source: source, tensor: Self.metadataKey, field: Self.metadataKey,
                                expected: "an object of strings", found: value.kindDescription)
        }
    }

    private func parseEntry(name: String, value: JSONValue, dataSize: Int) throws(SafeTensorsError) -> Entry {
        guard case let .object(fields) = value else {
            throw .invalidField(source: source, tensor: name, field: name,
                                expected: "an object with dtype, shape and data_offsets", found: value.kindDescription)
        }
        guard let dtypeValue = fields["dtype"] else { throw .missingField(source: source, tensor: name, field: "dtype") }
        guard let shapeValue = fields["shape"] else { throw .missingField(source: source, tensor: name, field: "shape") }
        guard let offsetsValue = fields["data_offsets"] else {
            throw .missingField(source: source, tensor: name, field: "data_offsets")
        }

        guard case let .string(dtypeName) = dtypeValue else {
            throw .invalidField(source: source, tensor: name, field: "dtype", expected: "a string", found: dtypeValue.kindDescription)
        }
        guard let dataType = SafeTensorsDataType(rawValue: dtypeName) else {
            throw .unsupportedDataType(source: source, tensor: name, dataType: dtypeName)
        }
        guard let shape = shapeValue.integers else {
            throw .invalidField(source: source, tensor: name, field: "shape",
                                expected: "an array of integers", found: shapeValue.kindDescription)
        }
        guard let offsets = offsetsValue.integers, offsets.count == 2 else {
            throw .invalidField(source: source, tensor: name, field: "data_offsets",
                                expected: "an array of two integers [begin, end]", found: offsetsValue.kindDescription)
        }
        guard let elementCount = NamedArray.elementCount(of: shape) else {
            throw .invalidShape(source: source, tensor: name, shape: shape)
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw .offsetsOutOfRange(source: source, tensor: name, begin: begin, end: end, dataSectionSize: dataSize)
        }
        let (expectedBytes, overflow) = elementCount.multipliedReportingOverflow(by: dataType.size)
        guard !overflow else { throw .invalidShape(source: source, tensor: name, shape: shape) }
        guard expectedBytes == end - begin else {
            throw .byteCountMismatch(source: source, tensor: name, expectedBytes: expectedBytes, foundBytes: end - begin)
        }
        return Entry(name: name, dataType: dataType, shape: shape, elementCount: elementCount, begin: begin, end: end)
    }

    /// Checks that the tensors tile the data section exactly: no overlap, no gap, nothing after.
    private func checkLayout(_ entries: [Entry], dataSize: Int) throws(SafeTensorsError) {
        let ordered = entries.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var previousEnd = 0
        var previousName: String?
        for entry in ordered {
            if entry.begin < previousEnd, let previousName {
                throw .overlappingTensors(source: source, first: previousName, second: entry.name)
            }
            if entry.begin > previousEnd {
                throw .unreferencedBytes(source: source, begin: previousEnd, end: entry.begin)
            }
            if entry.end > previousEnd || previousName == nil {
                previousEnd = entry.end
                previousName = entry.name
            }
        }
        guard previousEnd == dataSize else {
            throw .trailingBytes(source: source, expectedDataSectionSize: previousEnd, foundDataSectionSize: dataSize)
        }
    }

    private func decodeValues(_ entry: Entry, dataStart: Int) -> [Float] {
        let start = dataStart + entry.begin
        let count = entry.elementCount
        return bytes.withUnsafeBytes { raw -> [Float] in
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                switch entry.dataType {
                case .float32:
                    for index in 0..<count {
                        let bits = raw.loadUnaligned(fromByteOffset: start + 4 * index, as: UInt32.self)
                        buffer[index] = Float(bitPattern: UInt32(littleEndian: bits))
                    }
                case .float16:
                    for index in 0..<count {
                        let bits = raw.loadUnaligned(fromByteOffset: start + 2 * index, as: UInt16.self)
                        buffer[index] = SafeTensorsHalfPrecision.float(fromBinary16: UInt16(littleEndian: bits))
                    }
                case .bfloat16:
                    for index in 0..<count {
                        let bits = raw.loadUnaligned(fromByteOffset: start + 2 * index, as: UInt16.self)
                        buffer[index] = Float(bitPattern: UInt32(UInt16(littleEndian: bits)) << 16)
                    }
                case .float64:
                    for index in 0..<count {
                        let bits = raw.loadUnaligned(fromByteOffset: start + 8 * index, as: UInt64.self)
                        buffer[index] = Float(Double(bitPattern: UInt64(littleEndian: bits)))
                    }
                }
                initialized = count
            }
        }
    }
}

/// Conversion of IEEE 754 binary16 bit patterns, without relying on the platform's `Float16`.
enum SafeTensorsHalfPrecision {
    /// The `Float` equal to the binary16 value with bit pattern `bits` (exact: every half fits in a float).
    static func float(fromBinary16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        default:
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
    }
}

/// JSON text helpers for the hand-written, deterministic header.
enum SafeTensorsJSONText {
    /// `text` as a JSON string literal, with quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
