import EmovereCore
import Testing

/// Text printed for a person: control characters written as escapes, printable text (accents, emoji) as it is.
struct ControlCharacterTests {
    @Test func controlCharactersAreEscaped() {
        #expect("a\u{1B}[31mb\u{7}c\u{7F}d\u{9B}e".escapingControlCharacters() == "a\\u{1B}[31mb\\u{7}c\\u{7F}d\\u{9B}e")
        #expect("line\nnext\tcell\r".escapingControlCharacters() == "line\nnext\tcell\\u{D}")
        #expect("line\nnext\tcell".escapingControlCharacters(keepingLineBreaks: false) == "line\\u{A}next\\u{9}cell")
        #expect("line\nnext\tcell".escapedForOneLine == "line\\u{A}next\\u{9}cell")
        #expect("café 😀 é".escapingControlCharacters() == "café 😀 é")
        #expect("invoice\u{202E}gpj.exe".escapingControlCharacters() == "invoice\\u{202E}gpj.exe")
    }
}
