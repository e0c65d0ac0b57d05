/// An 8-bit RGB colour for drawing on an ``RGBImage``.
public struct RGBColor: Sendable, Hashable, CustomStringConvertible {
    /// Red, 0-255.
    public var red: UInt8
    /// Green, 0-255.
    public var green: UInt8
    /// Blue, 0-255.
    public var blue: UInt8

    /// Creates a colour from its three channels.
    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// Black, `(0, 0, 0)`.
    public static let black = RGBColor(red: 0, green: 0, blue: 0)
    /// White, `(255, 255, 255)`.
    public static let white = RGBColor(red: 255, green: 255, blue: 255)

    /// The BT.601 luma of the colour, 0-255 (the weights of ``RGBImage/grayscale()``).
    public var luma: Int {
        (Int(red) * 4899 + Int(green) * 9617 + Int(blue) * 1868 + 8192) >> 14
    }

    /// Black or white, whichever reads better as text on this colour.
    public var contrastingTextColor: RGBColor { luma >= 140 ? .black : .white }

    /// `#rrggbb`.
    public var description: String {
        func hex(_ value: UInt8) -> String {
            let digits = String(value, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }
        return "#" + hex(red) + hex(green) + hex(blue)
    }
}
