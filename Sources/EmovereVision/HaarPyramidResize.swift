import Dispatch
import EmovereCore

/// The image down-scaling used to build the detection pyramid, reproducing OpenCV 4's
/// `resize(src, dst, dsize, 0, 0, INTER_LINEAR_EXACT)` on 8-bit single-channel images bit for bit.
///
/// OpenCV's cascade detector shrinks the image (not the features) with `INTER_LINEAR_EXACT`, a fixed-point
/// bilinear filter:
/// - per destination column `dx`: `f = scale * (dx + 0.5) - 0.5` in double precision with
///   `scale = 1 / (dstWidth / srcWidth)`, `i = floor(f)`, weights `c1 = round_half_even((f - i) * 256)`,
///   `c0 = 256 - c1` (8 fractional bits). Columns with `i < 0` copy the first source column, columns with
///   `i >= srcWidth - 1` copy the last one. Rows likewise.
/// - horizontal pass: `h = c0 * src[i] + c1 * src[i + 1]` (16 fractional bits once combined);
///   copied border samples are `src << 8`.
/// - vertical pass: `dst = (h[iy] * r0 + h[iy + 1] * r1 + 2^15) >> 16`; copied border rows are `(h + 128) >> 8`.
/// - when both scale factors are exactly 2, OpenCV switches to its fast 2x2 area average `(a + b + c + d + 2) >> 2`.
/// - equal sizes are a plain copy.
enum HaarPyramidResize {
    /// Per-axis sampling table: source index and fixed-point weights for each destination coordinate.
    private struct AxisTable: Sendable {
        var offsets: [Int]
        var weight0: [UInt32]
        var weight1: [UInt32]
        /// Destination coordinates below this copy source index 0.
        var firstInterpolated: Int
        /// Destination coordinates at or above this copy the last source index.
        var endInterpolated: Int
        /// Source index copied for coordinates at or above `endInterpolated`.
        var lastSourceIndex: Int

        init(sourceCount: Int, destinationCount: Int) {
            let inverseScale = Double(destinationCount) / Double(sourceCount)
            let scale = 1.0 / inverseScale
            offsets = [Int](repeating: 0, count: destinationCount)
            weight0 = [UInt32](repeating: 0, count: destinationCount)
            weight1 = [UInt32](repeating: 0, count: destinationCount)
            var minimum = 0
            var maximum = destinationCount
            for destination in 0..<destinationCount {
                let position = scale * (Double(destination) + 0.5) - 0.5
                let floorValue = position.rounded(.down)
                let index = Int(floorValue)
                if index >= 0 && sourceCount > 1 {
                    if index < sourceCount - 1 {
                        offsets[destination] = index
                        let fraction = position - floorValue
                        let fixed = fraction.sign == .minus ? 0 : UInt32((fraction * 256).rounded(.toNearestOrEven))
                        weight1[destination] = fixed
                        weight0[destination] = 256 &- fixed
                    } else {
                        offsets[destination] = sourceCount - 1
                        maximum = min(maximum, destination)
                    }
                } else {
                    minimum = max(minimum, destination + 1)
                }
            }
            firstInterpolated = minimum
            endInterpolated = maximum
            lastSourceIndex = destinationCount > 0 ? offsets[destinationCount - 1] : 0
        }
    }

    /// Resizes `sourceWidth x sourceHeight` pixels at `source` (row pitch `sourceStride`) to
    /// `destinationWidth x destinationHeight` at `destination` (row pitch `destinationStride`), spreading rows
    /// over `concurrency` workers.
    static func resize(source: UnsafePointer<UInt8>, sourceWidth: Int, sourceHeight: Int, sourceStride: Int,
                       destination: UnsafeMutablePointer<UInt8>, destinationWidth: Int, destinationHeight: Int,
                       destinationStride: Int, concurrency: Int) {
        guard destinationWidth > 0, destinationHeight > 0, sourceWidth > 0, sourceHeight > 0 else { return }
        if destinationWidth == sourceWidth && destinationHeight == sourceHeight {
            for y in 0..<sourceHeight {
                (destination + y * destinationStride).update(from: source + y * sourceStride, count: sourceWidth)
            }
            return
        }
        let scaleX = 1.0 / (Double(destinationWidth) / Double(sourceWidth))
        let scaleY = 1.0 / (Double(destinationHeight) / Double(sourceHeight))
        if abs(scaleX - 2) < Double.ulpOfOne && abs(scaleY - 2) < Double.ulpOfOne {
            halve(source: source, sourceStride: sourceStride, destination: destination, destinationWidth: destinationWidth,
                  destinationHeight: destinationHeight, destinationStride: destinationStride)
            return
        }

        let columns = AxisTable(sourceCount: sourceWidth, destinationCount: destinationWidth)
        let rows = AxisTable(sourceCount: sourceHeight, destinationCount: destinationHeight)
        let bandCount = max(1, min(concurrency * 4, destinationHeight / 16, destinationWidth * destinationHeight / 16_384))
        let pointers = UnsafeSendable((source: source, destination: destination))
        columns.offsets.withUnsafeBufferPointer { columnOffsets in
            columns.weight0.withUnsafeBufferPointer { columnWeight0 in
                columns.weight1.withUnsafeBufferPointer { columnWeight1 in
                    let tables = UnsafeSendable((columnOffsets, columnWeight0, columnWeight1))
                    let work: @Sendable (Int) -> Void = { band in
                        let start = band * destinationHeight / bandCount
                        let end = (band + 1) * destinationHeight / bandCount
                        resizeRows(start..<end, source: pointers.value.source, sourceStride: sourceStride,
                                   sourceHeight: sourceHeight, destination: pointers.value.destination,
                                   destinationWidth: destinationWidth, destinationStride: destinationStride,
                                   columns: columns, columnOffsets: tables.value.0.baseAddress!,
                                   columnWeight0: tables.value.1.baseAddress!, columnWeight1: tables.value.2.baseAddress!,
                                   rows: rows)
                    }
                    Parallel.forEach(bandCount, threads: concurrency, work)
                }
            }
        }
    }

    /// OpenCV's fast 2x2 area average, used when both dimensions shrink by exactly 2.
    private static func halve(source: UnsafePointer<UInt8>, sourceStride: Int, destination: UnsafeMutablePointer<UInt8>,
                              destinationWidth: Int, destinationHeight: Int, destinationStride: Int) {
        for y in 0..<destinationHeight {
            let row0 = source + 2 * y * sourceStride
            let row1 = row0 + sourceStride
            let output = destination + y * destinationStride
            for x in 0..<destinationWidth {
                let sum = UInt32(row0[2 * x]) &+ UInt32(row0[2 * x + 1]) &+ UInt32(row1[2 * x]) &+ UInt32(row1[2 * x + 1])
                output[x] = UInt8(truncatingIfNeeded: (sum &+ 2) >> 2)
            }
        }
    }

    /// Horizontal pass of one source row into 8.8 fixed point.
    @inline(__always)
    private static func horizontal(row: UnsafePointer<UInt8>, into line: UnsafeMutablePointer<UInt32>, width: Int,
                                   columns: AxisTable, offsets: UnsafePointer<Int>, weight0: UnsafePointer<UInt32>,
                                   weight1: UnsafePointer<UInt32>) {
        let first = UInt32(row[0]) << 8
        var x = 0
        while x < columns.firstInterpolated {
            line[x] = first
            x += 1
        }
        while x < columns.endInterpolated {
            let pixel = row + offsets[x]
            line[x] = weight0[x] &* UInt32(pixel[0]) &+ weight1[x] &* UInt32(pixel[1])
            x += 1
        }
        let last = UInt32(row[columns.lastSourceIndex]) << 8
        while x < width {
            line[x] = last
            x += 1
        }
    }

    private static func resizeRows(_ range: Range<Int>, source: UnsafePointer<UInt8>, sourceStride: Int, sourceHeight: Int,
                                   destination: UnsafeMutablePointer<UInt8>, destinationWidth: Int, destinationStride: Int,
                                   columns: AxisTable, columnOffsets: UnsafePointer<Int>,
                                   columnWeight0: UnsafePointer<UInt32>, columnWeight1: UnsafePointer<UInt32>,
                                   rows: AxisTable) {
        guard !range.isEmpty else { return }
        let lines = UnsafeMutablePointer<UInt32>.allocate(capacity: 2 * destinationWidth)
        defer { lines.deallocate() }
        var upper = lines
        var lower = lines + destinationWidth
        var upperRow = -1
        var lowerRow = -1
        for y in range {
            let output = destination + y * destinationStride
            if y < rows.firstInterpolated || y >= rows.endInterpolated {
                let sourceRow = y < rows.firstInterpolated ? 0 : sourceHeight - 1
                if upperRow != sourceRow {
                    horizontal(row: source + sourceRow * sourceStride, into: upper, width: destinationWidth,
                               columns: columns, offsets: columnOffsets, weight0: columnWeight0, weight1: columnWeight1)
                    upperRow = sourceRow
                }
                for x in 0..<destinationWidth {
                    output[x] = UInt8(truncatingIfNeeded: min((upper[x] &+ 128) >> 8, 255))
                }
                continue
            }
            let top = rows.offsets[y]
            if upperRow != top {
                if lowerRow == top {
                    swap(&upper, &lower)
                    upperRow = top
                    lowerRow = -1
                } else {
                    horizontal(row: source + top * sourceStride, into: upper, width: destinationWidth,
                               columns: columns, offsets: columnOffsets, weight0: columnWeight0, weight1: columnWeight1)
                    upperRow = top
                }
            }
            if lowerRow != top + 1 {
                horizontal(row: source + (top + 1) * sourceStride, into: lower, width: destinationWidth,
                           columns: columns, offsets: columnOffsets, weight0: columnWeight0, weight1: columnWeight1)
                lowerRow = top + 1
            }
            let rowWeight0 = rows.weight0[y]
            let rowWeight1 = rows.weight1[y]
            for x in 0..<destinationWidth {
                let value = (upper[x] &* rowWeight0 &+ lower[x] &* rowWeight1 &+ 32_768) >> 16
                output[x] = UInt8(truncatingIfNeeded: min(value, 255))
            }
        }
    }
}

