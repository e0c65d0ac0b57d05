extension String {
    /// The text with its control characters (C0, DEL, C1; newline and tab too unless `keepingLineBreaks`) and its
    /// bidirectional embeddings, overrides and isolates written as `\u{1B}`, so a file name printed to a terminal
    /// cannot move its cursor, recolour it, hide the rest of a line or show its characters in another order.
    public func escapingControlCharacters(keepingLineBreaks: Bool = true) -> String {
        let isEscaped = { (scalar: Unicode.Scalar) in
            (scalar.value < 0x20 && !(keepingLineBreaks && (scalar == "\n" || scalar == "\t")))
                || (0x7F...0x9F).contains(scalar.value) || (0x202A...0x202E).contains(scalar.value)
                || (0x2066...0x2069).contains(scalar.value)
        }
        guard unicodeScalars.contains(where: isEscaped) else { return self }
        var escaped = ""
        for scalar in unicodeScalars {
            if isEscaped(scalar) {
                escaped += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// The text for a place in one line of output (a file name in a table): every control character escaped, line
    /// breaks and tabs too.
    public var escapedForOneLine: String { escapingControlCharacters(keepingLineBreaks: false) }
}
