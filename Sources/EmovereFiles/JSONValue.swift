import Foundation

/// Any JSON value, for reading loosely typed JSON: safetensors headers, Keras `model_config`.
/// Integers and fractions decode to distinct cases, but compare equal when they are the same number.
public indirect enum JSONValue: Decodable, Equatable, CustomStringConvertible, Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            let arrayError: any Error
            do {
                self = .array(try container.decode([JSONValue].self))
                return
            } catch {
                arrayError = error
            }
            do {
                self = .object(try container.decode([String: JSONValue].self))
            } catch {
                // An array with an element that could not be read: that element's error names what is wrong (a
                // mismatch at this value's own path says only that it is no array).
                if case let DecodingError.typeMismatch(_, context) = arrayError,
                   context.codingPath.count <= decoder.codingPath.count {
                    throw error
                }
                throw arrayError
            }
        }
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)): a == b
        default: lhs.number != nil && lhs.number == rhs.number
        }
    }

    /// The member `key` of an object (nil for other values or a missing key).
    public subscript(key: String) -> JSONValue? {
        if case let .object(members) = self { members[key] } else { nil }
    }

    public var string: String? {
        if case let .string(value) = self { value } else { nil }
    }

    public var bool: Bool? {
        if case let .bool(value) = self { value } else { nil }
    }

    public var array: [JSONValue]? {
        if case let .array(values) = self { values } else { nil }
    }

    /// Any number as `Double`.
    public var number: Double? {
        switch self {
        case let .integer(value): Double(value)
        case let .number(value): value
        default: nil
        }
    }

    /// An integral number as `Int` (nil for fractions and other values).
    public var integer: Int? {
        switch self {
        case let .integer(value): value
        case let .number(value) where value == value.rounded() && abs(value) < 1e15: Int(value)
        default: nil
        }
    }

    /// The elements when this is an array of integers written as integers.
    public var integers: [Int]? {
        guard case let .array(elements) = self else { return nil }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case let .integer(value) = element else { return nil }
            result.append(value)
        }
        return result
    }

    /// The value as compact JSON-like text, e.g. `[3, 3]` or `'same'`.
    public var description: String {
        switch self {
        case .null: "null"
        case let .bool(value): "\(value)"
        case let .integer(value): "\(value)"
        case let .number(value): value == value.rounded() && abs(value) < 1e15 ? "\(Int(value))" : "\(value)"
        case let .string(value): "'\(value)'"
        case let .array(values): "[\(values.map(\.description).joined(separator: ", "))]"
        case let .object(members): "{\(members.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}"
        }
    }

    /// A short description of the value's kind for error messages, e.g. `a string ("F32")`.
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case let .bool(value): return "a boolean (\(value))"
        case let .integer(value): return "an integer (\(value))"
        case let .number(value): return "a number (\(value))"
        case let .string(value): return "a string (\(SafeTensorsJSONText.quoted(value)))"
        case let .array(elements):
            let shown = elements.prefix(4).map(\.compactDescription).joined(separator: ", ")
            return "an array of \(elements.count) ([\(shown)\(elements.count > 4 ? ", ..." : "")])"
        case let .object(fields): return "an object with \(fields.count) keys"
        }
    }

    private var compactDescription: String {
        switch self {
        case let .string(value): SafeTensorsJSONText.quoted(value)
        case .array: "[...]"
        case .object: "{...}"
        default: description
        }
    }
}
