/// An axis-aligned rectangle in pixel coordinates: columns `x..<x + width`, rows `y..<y + height`.
public struct Rect: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The left column.
    public var x: Int
    /// The top row.
    public var y: Int
    /// Columns covered.
    public var width: Int
    /// Rows covered.
    public var height: Int

    /// Creates a rectangle from its top-left corner and size.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// The column just past the right edge.
    public var maxX: Int { x + width }
    /// The row just past the bottom edge.
    public var maxY: Int { y + height }
    /// The number of pixels covered, 0 for an empty or negative-sized rectangle.
    public var area: Int { isEmpty ? 0 : width * height }
    /// Whether the rectangle covers no pixel.
    public var isEmpty: Bool { width <= 0 || height <= 0 }

    public var description: String { "(\(x), \(y), \(width)x\(height))" }

    /// The part of this rectangle inside a `width` x `height` frame (possibly empty, size 0).
    public func clamped(toWidth frameWidth: Int, height frameHeight: Int) -> Rect {
        let left = min(max(x, 0), max(frameWidth, 0)), top = min(max(y, 0), max(frameHeight, 0))
        let right = min(max(maxX, left), max(frameWidth, 0)), bottom = min(max(maxY, top), max(frameHeight, 0))
        return Rect(x: left, y: top, width: right - left, height: bottom - top)
    }

    /// This rectangle grown on every side by `fraction` of its width (left and right) and
    /// height (top and bottom), about the same centre; a negative fraction shrinks it.
    public func expanded(byFraction fraction: Double) -> Rect {
        let dx = Int((Double(width) * fraction).rounded()), dy = Int((Double(height) * fraction).rounded())
        return Rect(x: x - dx, y: y - dy, width: max(width + 2 * dx, 0), height: max(height + 2 * dy, 0))
    }

    /// This rectangle in a frame scaled by `horizontal` and `vertical`: each edge moved to its scaled position,
    /// rounded to the nearest pixel.
    public func scaled(horizontal: Double, vertical: Double) -> Rect {
        let left = Int((Double(x) * horizontal).rounded()), top = Int((Double(y) * vertical).rounded())
        return Rect(x: left, y: top, width: Int((Double(maxX) * horizontal).rounded()) - left,
                    height: Int((Double(maxY) * vertical).rounded()) - top)
    }

    /// The overlap of two rectangles, or nil when they do not overlap.
    public func intersection(_ other: Rect) -> Rect? {
        let left = max(x, other.x), top = max(y, other.y)
        let right = min(maxX, other.maxX), bottom = min(maxY, other.maxY)
        guard right > left, bottom > top else { return nil }
        return Rect(x: left, y: top, width: right - left, height: bottom - top)
    }

    /// Intersection over union, in 0...1 (0 when either rectangle is empty or they do not overlap).
    public func intersectionOverUnion(_ other: Rect) -> Double {
        guard let overlap = intersection(other) else { return 0 }
        let union = area + other.area - overlap.area
        return union > 0 ? Double(overlap.area) / Double(union) : 0
    }
}

extension GrayImage {
    /// The pixels inside `rect`, clamped to the image frame (an empty image when nothing is inside).
    public func cropped(to rect: Rect) -> GrayImage {
        let clamped = rect.clamped(toWidth: width, height: height)
        guard !clamped.isEmpty else { return GrayImage(width: 0, height: 0, pixels: []) }
        var output = [UInt8]()
        output.reserveCapacity(clamped.area)
        for row in clamped.y..<clamped.maxY {
            let start = row * width + clamped.x
            output.append(contentsOf: pixels[start..<start + clamped.width])
        }
        return GrayImage(width: clamped.width, height: clamped.height, pixels: output)
    }
}

extension GrayImage {
    /// The pixels of `rect`, which may reach past the image: outside pixels repeat the nearest edge pixel.
    public func croppedExtendingEdges(to rect: Rect) -> GrayImage {
        guard width > 0, height > 0, !rect.isEmpty else { return GrayImage(width: 0, height: 0, pixels: []) }
        var output = [UInt8]()
        output.reserveCapacity(rect.area)
        // Each row: the columns left of the image repeat its first pixel, those right of it its last, and the span
        // inside is copied whole.
        let left = min(max(-rect.x, 0), rect.width), right = min(max(rect.maxX - width, 0), rect.width - left)
        let inside = rect.width - left - right, first = max(rect.x, 0)
        for row in rect.y..<rect.maxY {
            let start = min(max(row, 0), height - 1) * width
            if left > 0 { output.append(contentsOf: repeatElement(pixels[start], count: left)) }
            if inside > 0 { output.append(contentsOf: pixels[(start + first)..<(start + first + inside)]) }
            if right > 0 { output.append(contentsOf: repeatElement(pixels[start + width - 1], count: right)) }
        }
        return GrayImage(width: rect.width, height: rect.height, pixels: output)
    }
}

extension RGBImage {
    /// The pixels inside `rect`, clamped to the image frame (an empty image when nothing is inside).
    public func cropped(to rect: Rect) -> RGBImage {
        let clamped = rect.clamped(toWidth: width, height: height)
        guard !clamped.isEmpty else { return RGBImage(width: 0, height: 0, pixels: []) }
        var output = [UInt8]()
        output.reserveCapacity(clamped.area * 3)
        for row in clamped.y..<clamped.maxY {
            let start = (row * width + clamped.x) * 3
            output.append(contentsOf: pixels[start..<start + clamped.width * 3])
        }
        return RGBImage(width: clamped.width, height: clamped.height, pixels: output)
    }
}
