/// Any JSON value, for reading Keras's loosely typed `model_config`.
enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The member `key` of an object (nil for other values or a missing key).
    subscript(key: String) -> JSONValue? {
        if case let .object(members) = self { members[key] } else { nil }
    }

    var string: String? {
        if case let .string(value) = self { value } else { nil }
    }

    var number: Double? {
        if case let .number(value) = self { value } else { nil }
    }

    var bool: Bool? {
        if case let .bool(value) = self { value } else { nil }
    }

    var array: [JSONValue]? {
        if case let .array(values) = self { values } else { nil }
    }

    /// An integral number as `Int` (nil for fractions and other values).
    var integer: Int? {
        guard let number, number == number.rounded(), abs(number) < 1e15 else { return nil }
        return Int(number)
    }

    /// A Keras size pair such as `kernel_size` or `strides`: `[a, b]` or a single number for both.
    var pair: [Int]? {
        if let integer { return [integer, integer] }
        guard let values = array?.compactMap(\.integer), values.count == 2, array?.count == 2 else { return nil }
        return values
    }

    var description: String {
        switch self {
        case .null: "null"
        case let .bool(value): "\(value)"
        case let .number(value): value == value.rounded() && abs(value) < 1e15 ? "\(Int(value))" : "\(value)"
        case let .string(value): "'\(value)'"
        case let .array(values): "[\(values.map(\.description).joined(separator: ", "))]"
        case let .object(members): "{\(members.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}"
        }
    }
}
