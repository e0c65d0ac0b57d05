import Foundation

/// What a JSON decoding error found, in a few words that name the field (`no "model"`, `"epochs" not a Int`): the one
/// describer of the decoding errors of files a person writes or edits (result lines, recipes).
public enum DecodingProblem {
    /// The problem `error` reports; a value of the right JSON type that does not fit its field (an unknown name, a
    /// fraction or a sign where a whole number goes) is described as `unfitValue` (e.g. "a value this version does not
    /// know"). With the decoded `text`, an error without a field that Foundation on Linux reports as "not valid JSON"
    /// for a number that does not fit its field (1.5 or -1 for an integer) is told apart from text that is not JSON.
    /// An error that is not a `DecodingError` is described as it describes itself.
    public static func describe(_ error: any Error, unfitValue: String, text: Data? = nil) -> String {
        guard let decodingError = error as? DecodingError else { return "\(error)" }
        switch decodingError {
        case let .keyNotFound(key, context):
            return "no \"\(field(context.codingPath.map(\.stringValue) + [key.stringValue]))\""
        case let .typeMismatch(type, context), let .valueNotFound(type, context):
            let name = field(context.codingPath.map(\.stringValue))
            return name.isEmpty ? "something other than a JSON object" : "\"\(name)\" not a \(type)"
        case let .dataCorrupted(context):
            let name = field(context.codingPath.map(\.stringValue))
            if name.isEmpty, let text, (try? JSONSerialization.jsonObject(with: text, options: [.fragmentsAllowed])) != nil {
                return "a number that does not fit its field (a fraction, a negative number or one too large where a whole number goes; the decoder does not say which field)"
            }
            return name.isEmpty ? "text that is not JSON" : "\"\(name)\" with \(unfitValue)"
        @unknown default:
            return "\(decodingError)"
        }
    }

    /// `["augmentation", "zoom"]` as `augmentation.zoom`.
    private static func field(_ path: [String]) -> String { path.joined(separator: ".") }
}
