/// Drawing primitives for annotating photos: rectangles, text and probability bars.
///
/// Every shape is clipped to the image frame: a shape partly outside draws only its visible part, and a shape
/// fully outside (or empty) draws nothing. No call traps on any position or size. Pixels are written through
/// unsafe pointers, with no allocation per pixel.
extension RGBImage {
    /// Fills `rect` with `color`, blended over the image with `opacity` (0 leaves the image unchanged, 1 paints
    /// the colour; values in between mix `opacity * color + (1 - opacity) * pixel`, in steps of 1/256).
    public mutating func fillRectangle(_ rect: Rect, color: RGBColor, opacity: Double = 1) {
        let alpha = DrawingGeometry.alpha(opacity)
        guard alpha > 0, let columns = DrawingGeometry.span(rect.x, rect.width, limit: width),
              let rows = DrawingGeometry.span(rect.y, rect.height, limit: height) else { return }
        let imageWidth = width
        pixels.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            DrawingGeometry.fill(base, imageWidth: imageWidth, columns: columns, rows: rows, color: color, alpha: alpha)
        }
    }

    /// Outlines `rect` with lines `thickness` pixels wide drawn inside it: the outer edge of the outline is the
    /// edge of `rect`. A thickness of half the smaller side or more fills the rectangle; 0 or less draws nothing.
    public mutating func drawRectangle(_ rect: Rect, color: RGBColor, thickness: Int = 1) {
        let box = DrawingGeometry.saturated(rect)
        guard thickness > 0, !box.isEmpty else { return }
        let line = min(thickness, box.width, box.height)
        if line * 2 >= box.width || line * 2 >= box.height {
            fillRectangle(box, color: color)
            return
        }
        fillRectangle(Rect(x: box.x, y: box.y, width: box.width, height: line), color: color)
        fillRectangle(Rect(x: box.x, y: box.maxY - line, width: box.width, height: line), color: color)
        let sideHeight = box.height - 2 * line
        fillRectangle(Rect(x: box.x, y: box.y + line, width: line, height: sideHeight), color: color)
        fillRectangle(Rect(x: box.maxX - line, y: box.y + line, width: line, height: sideHeight), color: color)
    }

    /// Draws `text` on one line with its top-left corner at (`x`, `y`), each font pixel a `scale` x `scale`
    /// square (scale is clamped to 1...1024). Only the glyphs' set pixels are painted.
    /// - Returns: the area the text occupies (``BitmapFont/size(of:scale:)`` at `x`, `y`), before clipping.
    @discardableResult
    public mutating func drawText(_ text: String, x: Int, y: Int, color: RGBColor, scale: Int = 1,
                                  font: BitmapFont = .standard) -> Rect {
        let factor = DrawingGeometry.scale(scale)
        let size = font.size(of: text, scale: factor)
        let origin = DrawingGeometry.saturated(Rect(x: x, y: y, width: 0, height: 0))
        let bounds = Rect(x: origin.x, y: origin.y, width: size.width, height: size.height)
        guard DrawingGeometry.span(bounds.x, bounds.width, limit: width) != nil,
              DrawingGeometry.span(bounds.y, bounds.height, limit: height) != nil else { return bounds }
        let imageWidth = width, imageHeight = height
        let glyphWidth = font.glyphWidth, glyphHeight = font.glyphHeight, step = font.advance * factor
        pixels.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            font.rows.withUnsafeBufferPointer { table in
                guard let glyphs = table.baseAddress else { return }
                var penX = bounds.x
                for scalar in text.unicodeScalars {
                    if penX >= imageWidth { break }
                    defer { penX += step }
                    if penX + glyphWidth * factor <= 0 { continue }
                    let offset = font.glyphOffset(scalar)
                    for row in 0..<glyphHeight {
                        let bits = glyphs[offset + row]
                        if bits == 0 { continue }
                        guard let rows = DrawingGeometry.span(bounds.y + row * factor, factor, limit: imageHeight) else {
                            continue
                        }
                        for column in 0..<glyphWidth where bits >> UInt8(glyphWidth - 1 - column) & 1 == 1 {
                            guard let columns = DrawingGeometry.span(penX + column * factor, factor, limit: imageWidth) else {
                                continue
                            }
                            DrawingGeometry.fill(base, imageWidth: imageWidth, columns: columns, rows: rows,
                                                 color: color, alpha: 256)
                        }
                    }
                }
            }
        }
        return bounds
    }

    /// Draws `text` on a filled box: `padding` pixels (default: `scale`) of `background` around the text's
    /// cell, with the box's top-left corner at (`x`, `y`).
    /// - Returns: the box, before clipping.
    @discardableResult
    public mutating func drawLabel(_ text: String, x: Int, y: Int, textColor: RGBColor, background: RGBColor,
                                   backgroundOpacity: Double = 1, scale: Int = 1, padding: Int? = nil,
                                   font: BitmapFont = .standard) -> Rect {
        let box = Self.labelSize(text, scale: scale, padding: padding, font: font)
        let frame = DrawingGeometry.saturated(Rect(x: x, y: y, width: box.width, height: box.height))
        let inset = max(padding ?? DrawingGeometry.scale(scale), 0)
        fillRectangle(frame, color: background, opacity: backgroundOpacity)
        drawText(text, x: frame.x + inset, y: frame.y + inset, color: textColor, scale: scale, font: font)
        return frame
    }

    /// The size of the box ``drawLabel(_:x:y:textColor:background:backgroundOpacity:scale:padding:font:)`` draws.
    public static func labelSize(_ text: String, scale: Int = 1, padding: Int? = nil,
                                 font: BitmapFont = .standard) -> (width: Int, height: Int) {
        let factor = DrawingGeometry.scale(scale)
        let inset = max(padding ?? factor, 0)
        let text = font.size(of: text, scale: factor)
        return (text.width + 2 * inset, font.glyphHeight * factor + 2 * inset)
    }

    /// Draws a horizontal bar in `rect`: the left `value` fraction (clamped to 0...1; NaN counts as 0) of its width,
    /// rounded to whole pixels, in `color`, and the rest in `trackColor` when one is given.
    public mutating func drawBar(value: Double, in rect: Rect, color: RGBColor, trackColor: RGBColor? = nil) {
        let box = DrawingGeometry.saturated(rect)
        guard !box.isEmpty else { return }
        let filled = DrawingGeometry.filledLength(value, of: box.width)
        if let trackColor, filled < box.width {
            fillRectangle(Rect(x: box.x + filled, y: box.y, width: box.width - filled, height: box.height),
                          color: trackColor)
        }
        fillRectangle(Rect(x: box.x, y: box.y, width: filled, height: box.height), color: color)
    }

    /// Draws one row of a probability panel with its top-left corner at (`x`, `y`): `label` left-aligned in a
    /// column of ``ProbabilityBarStyle/labelCharacters`` characters (longer labels are cut), a bar of ``ProbabilityBarStyle/barLength``
    /// proportional to `value` (0...1), and the value as a whole percentage, right-aligned.
    /// - Returns: the row's area (``ProbabilityBarStyle/rowSize``), before clipping.
    @discardableResult
    public mutating func drawProbabilityBar(label: String, value: Double, x: Int, y: Int,
                                            style: ProbabilityBarStyle) -> Rect {
        let layout = style.layout
        let origin = DrawingGeometry.saturated(Rect(x: x, y: y, width: 0, height: 0))
        let row = Rect(x: origin.x, y: origin.y, width: layout.rowWidth, height: layout.rowHeight)
        let characters = min(max(style.labelCharacters, 0), 4096)
        let shown = label.unicodeScalars.count > characters ? String(label.unicodeScalars.prefix(characters)) : label
        drawText(shown, x: row.x, y: row.y, color: style.textColor, scale: style.scale, font: style.font)
        drawBar(value: value, in: Rect(x: row.x + layout.barX, y: row.y + layout.barY, width: layout.barWidth,
                                       height: layout.barHeight),
                color: style.barColor, trackColor: style.trackColor)
        let percent = ProbabilityBarStyle.percentText(value)
        let textWidth = style.font.size(of: percent, scale: style.scale).width
        drawText(percent, x: row.maxX - textWidth, y: row.y, color: style.textColor, scale: style.scale,
                 font: style.font)
        return row
    }
}

/// The look and layout of a row drawn by ``RGBImage/drawProbabilityBar(label:value:x:y:style:)``.
public struct ProbabilityBarStyle: Sendable {
    /// Image pixels per font pixel (clamped to 1...1024 when drawn).
    public var scale: Int
    /// Width of the label column, in characters.
    public var labelCharacters: Int
    /// Length of the bar at scale 1, in pixels; multiplied by ``scale``.
    public var barLength: Int
    /// Colour of the label and the percentage.
    public var textColor: RGBColor
    /// Colour of the filled part of the bar.
    public var barColor: RGBColor
    /// Colour of the unfilled part of the bar, or nil to leave it undrawn.
    public var trackColor: RGBColor?
    /// The font of the label and the percentage.
    public var font: BitmapFont

    /// A style; the defaults fit the seven emotion names (`surprise` is the longest, 8 characters).
    public init(scale: Int = 1, labelCharacters: Int = 8, barLength: Int = 40, textColor: RGBColor = .white,
                barColor: RGBColor = .white, trackColor: RGBColor? = RGBColor(red: 70, green: 70, blue: 70),
                font: BitmapFont = .standard) {
        self.scale = scale
        self.labelCharacters = labelCharacters
        self.barLength = barLength
        self.textColor = textColor
        self.barColor = barColor
        self.trackColor = trackColor
        self.font = font
    }

    /// The size of one row in image pixels: label column, a one-character gap, the bar, a one-character gap and
    /// four characters for the percentage (`100%`), by one glyph cell.
    public var rowSize: (width: Int, height: Int) {
        let layout = layout
        return (layout.rowWidth, layout.rowHeight)
    }

    /// `value` as a whole percentage, `0%` to `100%` (clamped; NaN reads `0%`).
    public static func percentText(_ value: Double) -> String {
        "\(DrawingGeometry.filledLength(value, of: 100))%"
    }

    struct Layout {
        var rowWidth: Int, rowHeight: Int
        var barX: Int, barY: Int, barWidth: Int, barHeight: Int
    }

    var layout: Layout {
        let factor = DrawingGeometry.scale(scale)
        let characters = min(max(labelCharacters, 0), 4096)
        let label = characters * font.advance * factor
        let gap = font.advance * factor
        let bar = min(max(barLength, 0), 1 << 20) * factor
        let value = font.size(of: "100%", scale: factor).width
        // The bar spans the capital height, one font pixel shorter at the top so it sits on the baseline.
        let barTop = factor
        let barHeight = max(font.capitalHeight - 1, 1) * factor
        return Layout(rowWidth: label + gap + bar + gap + value, rowHeight: font.glyphHeight * factor,
                      barX: label + gap, barY: barTop, barWidth: bar, barHeight: barHeight)
    }
}

/// Clipping and pixel filling shared by the drawing functions.
enum DrawingGeometry {
    /// Coordinates beyond this magnitude are pulled in to it, so that no sum of positions and sizes can
    /// overflow; images are far smaller, so what is drawn does not change.
    static let coordinateLimit = 1 << 40

    /// `rect` with its position in `±coordinateLimit` and its size in `0...2 * coordinateLimit`.
    static func saturated(_ rect: Rect) -> Rect {
        let limit = coordinateLimit
        return Rect(x: min(max(rect.x, -limit), limit), y: min(max(rect.y, -limit), limit),
                    width: min(max(rect.width, 0), 2 * limit), height: min(max(rect.height, 0), 2 * limit))
    }

    /// The part of `start..<start + length` inside `0..<limit`, or nil when nothing of it is.
    @inline(__always)
    static func span(_ start: Int, _ length: Int, limit: Int) -> Range<Int>? {
        let bound = coordinateLimit
        let lower = min(max(start, -bound), bound)
        let upper = lower + min(max(length, 0), 2 * bound)
        let first = max(lower, 0), end = min(upper, limit)
        return first < end ? first..<end : nil
    }

    /// An opacity as a weight out of 256.
    static func alpha(_ opacity: Double) -> Int {
        guard opacity.isFinite else { return opacity == .infinity ? 256 : 0 }
        return Int((min(max(opacity, 0), 1) * 256).rounded())
    }

    /// A drawing scale clamped to 1...1024.
    static func scale(_ scale: Int) -> Int { min(max(scale, 1), 1024) }

    /// `round(value * length)` with `value` clamped to 0...1 (NaN as 0).
    static func filledLength(_ value: Double, of length: Int) -> Int {
        guard !value.isNaN else { return 0 }
        return Int((min(max(value, 0), 1) * Double(length)).rounded())
    }

    /// Paints `columns` x `rows` (already inside the image) of an interleaved RGB buffer with `color`, blended
    /// with weight `alpha` out of 256.
    @inline(__always)
    static func fill(_ base: UnsafeMutablePointer<UInt8>, imageWidth: Int, columns: Range<Int>, rows: Range<Int>,
                     color: RGBColor, alpha: Int) {
        let red = color.red, green = color.green, blue = color.blue
        if alpha >= 256 {
            for row in rows {
                var pixel = base + (row &* imageWidth &+ columns.lowerBound) &* 3
                for _ in columns {
                    pixel[0] = red
                    pixel[1] = green
                    pixel[2] = blue
                    pixel += 3
                }
            }
            return
        }
        let keep = UInt32(256 - alpha), weight = UInt32(alpha)
        let redTerm = UInt32(red) &* weight &+ 128, greenTerm = UInt32(green) &* weight &+ 128
        let blueTerm = UInt32(blue) &* weight &+ 128
        for row in rows {
            var pixel = base + (row &* imageWidth &+ columns.lowerBound) &* 3
            for _ in columns {
                pixel[0] = UInt8(truncatingIfNeeded: (UInt32(pixel[0]) &* keep &+ redTerm) >> 8)
                pixel[1] = UInt8(truncatingIfNeeded: (UInt32(pixel[1]) &* keep &+ greenTerm) >> 8)
                pixel[2] = UInt8(truncatingIfNeeded: (UInt32(pixel[2]) &* keep &+ blueTerm) >> 8)
                pixel += 3
            }
        }
    }
}
