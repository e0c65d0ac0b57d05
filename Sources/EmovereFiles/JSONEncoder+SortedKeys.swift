import Foundation

extension JSONEncoder {
    /// The encoder of Emovere's JSON files and command output (model cards, also in ONNX exports, checkpoints,
    /// recipes, reports, result lines): keys sorted, so equal values give equal bytes, and slashes unescaped, so paths
    /// read as written; one line, or indented when `pretty`.
    public static func sortedKeys(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
