/// A failure while reading, validating, building or writing a safetensors file.
///
/// Every message names the file (or `source`) involved and, where it applies, what was
/// expected and what was found instead.
public enum SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is shorter than the 8-byte header-length prefix.
    case fileTooShort(source: String, byteCount: Int)
    /// The header length in the prefix exceeds the bytes that follow it.
    case headerLengthExceedsFile(source: String, headerLength: UInt64, availableBytes: Int)
    /// The header is not valid UTF-8 JSON, or its top level is not a JSON object.
    case invalidHeader(source: String, reason: String)
    /// A tensor entry lacks a required field (`dtype`, `shape` or `data_offsets`).
    case missingField(source: String, tensor: String, field: String)
    /// A tensor entry or the metadata has a field of the wrong JSON type or form.
    case invalidField(source: String, tensor: String, field: String, expected: String, found: String)
    /// A tensor uses a data type this reader cannot convert to `Float`.
    case unsupportedDataType(source: String, tensor: String, dataType: String)
    /// A tensor's byte range lies outside the data section.
    case offsetsOutOfRange(source: String, tensor: String, begin: Int, end: Int, dataSectionSize: Int)
    /// A tensor's byte range does not match its shape and data type.
    case byteCountMismatch(source: String, tensor: String, expectedBytes: Int, foundBytes: Int)
    /// Two tensors share bytes of the data section.
    case overlappingTensors(source: String, first: String, second: String)
    /// Bytes of the data section between two tensors belong to no tensor.
    case unreferencedBytes(source: String, begin: Int, end: Int)
    /// Bytes after the last tensor belong to no tensor.
    case trailingBytes(source: String, expectedDataSectionSize: Int, foundDataSectionSize: Int)
    /// A shape's element count overflows `Int`, or a dimension is negative.
    case invalidShape(source: String, tensor: String, shape: [Int])
    /// An array's value count does not match the element count of its shape.
    case valueCountMismatch(shape: [Int], expectedCount: Int, foundCount: Int)
    /// A tensor name cannot be stored (empty, or the reserved `__metadata__`).
    case invalidTensorName(name: String)
    /// A tensor requested by name is not in the file.
    case missingTensor(source: String, name: String, available: [String])
    /// Reading the file failed.
    case readFailed(path: String, reason: String)
    /// Writing, syncing or renaming the file failed.
    case writeFailed(path: String, operation: String, reason: String)

    public var description: String {
        switch self {
        case let .fileTooShort(source, byteCount):
            return "\(source): not a safetensors file: expected at least 8 bytes (header length), found \(byteCount)"
        case let .headerLengthExceedsFile(source, headerLength, availableBytes):
            return "\(source): not a safetensors file, or a truncated one: its first 8 bytes give a header length of \(headerLength), but only \(availableBytes) bytes follow them"
        case let .invalidHeader(source, reason):
            return "\(source): invalid safetensors header: \(reason)"
        case let .missingField(source, tensor, field):
            return "\(source): tensor '\(tensor)': missing field '\(field)'"
        case let .invalidField(source, tensor, field, expected, found):
            return "\(source): tensor '\(tensor)': field '\(field)': expected \(expected), found \(found)"
        case let .unsupportedDataType(source, tensor, dataType):
            return "\(source): tensor '\(tensor)': unsupported dtype '\(dataType)' (expected one of F32, F16, BF16, F64)"
        case let .offsetsOutOfRange(source, tensor, begin, end, dataSectionSize):
            return "\(source): tensor '\(tensor)': data_offsets [\(begin), \(end)] out of range: expected 0 <= begin <= end <= \(dataSectionSize) (data section size)"
        case let .byteCountMismatch(source, tensor, expectedBytes, foundBytes):
            return "\(source): tensor '\(tensor)': shape and dtype need \(expectedBytes) bytes, but data_offsets span \(foundBytes)"
        case let .overlappingTensors(source, first, second):
            return "\(source): tensors '\(first)' and '\(second)' overlap in the data section"
        case let .unreferencedBytes(source, begin, end):
            return "\(source): data bytes \(begin)..<\(end) belong to no tensor: expected tensors stored contiguously"
        case let .trailingBytes(source, expectedDataSectionSize, foundDataSectionSize):
            return "\(source): trailing garbage: tensors end at data byte \(expectedDataSectionSize), but the data section has \(foundDataSectionSize) bytes"
        case let .invalidShape(source, tensor, shape):
            return "\(source): tensor '\(tensor)': invalid shape \(shape): expected non-negative dimensions whose product fits in Int"
        case let .valueCountMismatch(shape, expectedCount, foundCount):
            return "array of shape \(shape): expected \(expectedCount) values, found \(foundCount)"
        case let .invalidTensorName(name):
            return "invalid tensor name '\(name)': expected a non-empty name other than '__metadata__'"
        case let .missingTensor(source, name, available):
            let shown = available.prefix(10).joined(separator: ", ")
            let more = available.count > 10 ? ", ... (\(available.count) in all)" : ""
            return "\(source): no tensor named '\(name)'; found: [\(shown)\(more)]"
        case let .readFailed(path, reason):
            return "\(path): cannot read safetensors file: \(reason)"
        case let .writeFailed(path, operation, reason):
            return "\(path): cannot write safetensors file: \(operation) failed: \(reason)"
        }
    }
}
