import EmovereCore

/// Text for SVG documents: the one escaping rule of Emovere's plots.
enum SVGText {
    /// `text` safe inside SVG elements and attribute values: markup characters as entities, and the characters XML
    /// 1.0 allows nowhere (control characters, U+FFFE, U+FFFF: a file name may hold them) written out as `\u{1}`,
    /// so the document stays well-formed.
    static func escaped(_ text: String) -> String {
        let allowed = String(String.UnicodeScalarView(text.escapedForOneLine.unicodeScalars.map { scalar in
            scalar.value == 0xFFFE || scalar.value == 0xFFFF ? "\u{FFFD}" : scalar
        }))
        return allowed.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
