/// A fixed-width bitmap font for printable ASCII (32-126), drawn by ``RGBImage/drawText(_:x:y:color:scale:font:)``.
///
/// Every glyph is a cell of ``glyphWidth`` x ``glyphHeight`` bits. The built-in ``standard`` font is a 5x8 design made
/// for Emovere: capitals and digits are 7 rows tall (rows 0-6), lowercase letters have a 5-row x-height (rows 2-6),
/// and row 7 holds the descenders of `g j p q y , _`. Characters outside 32-126 are drawn as `?`.
public struct BitmapFont: Sendable {
    /// Columns of one glyph cell, in font pixels.
    public let glyphWidth: Int
    /// Rows of one glyph cell, in font pixels (including the descender rows).
    public let glyphHeight: Int
    /// Rows above the baseline (the height of a capital letter), in font pixels.
    public let capitalHeight: Int
    /// Horizontal distance from one glyph to the next, in font pixels (glyph width plus spacing).
    public let advance: Int
    /// Vertical distance from one line to the next, in font pixels.
    public let lineHeight: Int
    /// `glyphHeight` rows per glyph for characters 32...126 in order; bit `glyphWidth - 1` of a row is its
    /// leftmost pixel.
    let rows: [UInt8]

    /// The first and last characters the font draws.
    public static let printableRange: ClosedRange<UInt32> = 32...126

    /// Creates a font from its glyph rows (see ``rows``); returns nil when the table does not hold
    /// `glyphHeight` rows for each of the 95 printable characters or a glyph is wider than 8 bits.
    public init?(glyphWidth: Int, glyphHeight: Int, capitalHeight: Int, spacing: Int, lineSpacing: Int, rows: [UInt8]) {
        let count = Int(Self.printableRange.count)
        guard (1...8).contains(glyphWidth), glyphHeight >= 1, (1...glyphHeight).contains(capitalHeight),
              spacing >= 0, lineSpacing >= 0, rows.count == count * glyphHeight else { return nil }
        self.glyphWidth = glyphWidth
        self.glyphHeight = glyphHeight
        self.capitalHeight = capitalHeight
        self.advance = glyphWidth + spacing
        self.lineHeight = glyphHeight + lineSpacing
        self.rows = rows
    }

    /// The index of the first row of `scalar`'s glyph in ``rows`` (`?` for characters the font lacks).
    @inline(__always)
    func glyphOffset(_ scalar: Unicode.Scalar) -> Int {
        let value = Self.printableRange.contains(scalar.value) ? scalar.value : 63 // "?"
        return Int(value - Self.printableRange.lowerBound) &* glyphHeight
    }

    /// Whether font pixel (`column`, `row`) of `scalar`'s glyph is set.
    public func isSet(_ scalar: Unicode.Scalar, column: Int, row: Int) -> Bool {
        guard (0..<glyphWidth).contains(column), (0..<glyphHeight).contains(row) else { return false }
        return rows[glyphOffset(scalar) + row] >> UInt8(glyphWidth - 1 - column) & 1 == 1
    }

    /// The size in image pixels of `text` drawn on one line at integer `scale`: `advance * scale` per character
    /// minus the trailing spacing, by `glyphHeight * scale` (0 x 0 for empty text).
    public func size(of text: String, scale: Int = 1) -> (width: Int, height: Int) {
        let factor = max(scale, 1)
        let count = text.unicodeScalars.count
        guard count > 0 else { return (0, 0) }
        return ((count * advance - (advance - glyphWidth)) * factor, glyphHeight * factor)
    }

    /// The built-in 5x8 font (advance 6, line height 10).
    public static let standard: BitmapFont = {
        guard let font = BitmapFont(glyphWidth: 5, glyphHeight: 8, capitalHeight: 7, spacing: 1, lineSpacing: 2,
                                    rows: standardRows) else {
            preconditionFailure("the built-in font table must hold 8 rows for each of the 95 printable characters")
        }
        return font
    }()

    /// Eight 5-bit rows per character, 32 (space) to 126 (tilde). Designed for Emovere.
    private static let standardRows: [UInt8] = [
        0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, // 32 space
        0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100, 0b00000, // 33 !
        0b01010, 0b01010, 0b01010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, // 34 "
        0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010, 0b00000, // 35 #
        0b00100, 0b01111, 0b10100, 0b01110, 0b00101, 0b11110, 0b00100, 0b00000, // 36 $
        0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011, 0b00000, // 37 %
        0b01100, 0b10010, 0b10100, 0b01000, 0b10101, 0b10010, 0b01101, 0b00000, // 38 &
        0b00100, 0b00100, 0b01000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, // 39 apostrophe
        0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010, 0b00000, // 40 (
        0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000, 0b00000, // 41 )
        0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000, 0b00000, // 42 asterisk
        0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000, 0b00000, // 43 +
        0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000, // 44 ,
        0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000, 0b00000, // 45 -
        0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100, 0b00000, // 46 .
        0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000, 0b00000, // 47 slash
        0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110, 0b00000, // 48 0
        0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, // 49 1
        0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000, // 50 2
        0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110, 0b00000, // 51 3
        0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010, 0b00000, // 52 4
        0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110, 0b00000, // 53 5
        0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110, 0b00000, // 54 6
        0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00000, // 55 7
        0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110, 0b00000, // 56 8
        0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100, 0b00000, // 57 9
        0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000, 0b00000, // 58 :
        0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b00100, 0b01000, 0b00000, // 59 ;
        0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00000, // 60 <
        0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000, // 61 =
        0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000, 0b00000, // 62 >
        0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100, 0b00000, // 63 ?
        0b01110, 0b10001, 0b00001, 0b01101, 0b10101, 0b10101, 0b01110, 0b00000, // 64 @
        0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000, // 65 A
        0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110, 0b00000, // 66 B
        0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000, // 67 C
        0b11110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11110, 0b00000, // 68 D
        0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111, 0b00000, // 69 E
        0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000, // 70 F
        0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111, 0b00000, // 71 G
        0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000, // 72 H
        0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, // 73 I
        0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100, 0b00000, // 74 J
        0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001, 0b00000, // 75 K
        0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111, 0b00000, // 76 L
        0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001, 0b00000, // 77 M
        0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0b00000, // 78 N
        0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000, // 79 O
        0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000, // 80 P
        0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101, 0b00000, // 81 Q
        0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001, 0b00000, // 82 R
        0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110, 0b00000, // 83 S
        0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, // 84 T
        0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000, // 85 U
        0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000, // 86 V
        0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010, 0b00000, // 87 W
        0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001, 0b00000, // 88 X
        0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, // 89 Y
        0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111, 0b00000, // 90 Z
        0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110, 0b00000, // 91 [
        0b00000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00001, 0b00000, 0b00000, // 92 backslash
        0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110, 0b00000, // 93 ]
        0b00100, 0b01010, 0b10001, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, // 94 ^
        0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111, // 95 _
        0b01000, 0b00100, 0b00010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, // 96 `
        0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111, 0b00000, // 97 a
        0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110, 0b00000, // 98 b
        0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000, // 99 c
        0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111, 0b00000, // 100 d
        0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110, 0b00000, // 101 e
        0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000, 0b00000, // 102 f
        0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110, // 103 g
        0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000, // 104 h
        0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, // 105 i
        0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100, // 106 j
        0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b00000, // 107 k
        0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, // 108 l
        0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10101, 0b10001, 0b00000, // 109 m
        0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000, // 110 n
        0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000, // 111 o
        0b00000, 0b00000, 0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, // 112 p
        0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b00001, // 113 q
        0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000, 0b00000, // 114 r
        0b00000, 0b00000, 0b01111, 0b10000, 0b01110, 0b00001, 0b11110, 0b00000, // 115 s
        0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110, 0b00000, // 116 t
        0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101, 0b00000, // 117 u
        0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000, // 118 v
        0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010, 0b00000, // 119 w
        0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b00000, // 120 x
        0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110, // 121 y
        0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000, // 122 z
        0b00010, 0b00100, 0b00100, 0b01000, 0b00100, 0b00100, 0b00010, 0b00000, // 123 {
        0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, // 124 |
        0b01000, 0b00100, 0b00100, 0b00010, 0b00100, 0b00100, 0b01000, 0b00000, // 125 }
        0b00000, 0b00000, 0b01000, 0b10101, 0b00010, 0b00000, 0b00000, 0b00000, // 126 ~
    ]
}
