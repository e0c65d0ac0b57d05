/// Separable resampling of interleaved images: 8-bit pixels, or Float model inputs (`ResampledPixel`).
///
/// Each axis gets a table of taps (source index, weight) per output index: area weights when the
/// axis shrinks (the fraction of each source pixel covered by the output pixel, like OpenCV's
/// `INTER_AREA`), bilinear weights with half-pixel centres when it grows (like `INTER_LINEAR`).
struct Resampler {
    /// Per output index, the range `tapStart[i]..<tapStart[i + 1]` of `tapSource`/`tapWeight`.
    struct Axis {
        var tapStart: [Int]
        var tapSource: [Int]
        var tapWeight: [Float]

        init(input: Int, output: Int) {
            tapStart = [0]
            tapSource = []
            tapWeight = []
            tapStart.reserveCapacity(output + 1)
            let scale = Double(input) / Double(output)
            for index in 0..<output {
                if scale >= 1 {
                    let low = Double(index) * scale, high = min(Double(index + 1) * scale, Double(input))
                    var source = Int(low.rounded(.down))
                    while Double(source) < high, source < input {
                        let overlap = min(Double(source + 1), high) - max(Double(source), low)
                        if overlap > 1e-9 {
                            tapSource.append(source)
                            tapWeight.append(Float(overlap / scale))
                        }
                        source += 1
                    }
                } else {
                    let centre = max((Double(index) + 0.5) * scale - 0.5, 0)
                    var first = Int(centre.rounded(.down))
                    var fraction = centre - Double(first)
                    if first >= input - 1 {
                        first = input - 1
                        fraction = 0
                    }
                    tapSource.append(first)
                    tapWeight.append(Float(1 - fraction))
                    if fraction > 0 {
                        tapSource.append(first + 1)
                        tapWeight.append(Float(fraction))
                    }
                }
                tapStart.append(tapSource.count)
            }
        }
    }

    /// Resamples `pixels` (`width * height * channels`) to `newWidth * newHeight * channels`.
    static func resample(_ pixels: [UInt8], width: Int, height: Int, channels: Int,
                         newWidth: Int, newHeight: Int) -> [UInt8] {
        precondition(newWidth >= 0 && newHeight >= 0, "resized size must not be negative, got \(newWidth)x\(newHeight)")
        let outputCount = newWidth * newHeight * channels
        if width == 0 || height == 0 || outputCount == 0 {
            return [UInt8](repeating: 0, count: outputCount)
        }
        if width == newWidth && height == newHeight { return pixels }
        return [UInt8](unsafeUninitializedCapacity: outputCount) { output, initialized in
            pixels.withUnsafeBufferPointer { input in
                resample(input.baseAddress!, count: 1, width: width, height: height, channels: channels,
                         newWidth: newWidth, newHeight: newHeight, into: output.baseAddress!)
            }
            initialized = outputCount
        }
    }

    /// Resamples `count` images of `width * height * channels` values, one after another at `input`, into images of
    /// `newWidth * newHeight * channels` at `output` (all sizes positive): per image a horizontal pass into Float
    /// rows, then a vertical one, each output value stored with `Pixel.init(resampled:)`. The tap tables and the
    /// rows are made once for all the images.
    static func resample<Pixel: ResampledPixel>(
        _ input: UnsafePointer<Pixel>, count: Int, width: Int, height: Int, channels: Int, newWidth: Int,
        newHeight: Int, into output: UnsafeMutablePointer<Pixel>
    ) {
        let horizontal = Axis(input: width, output: newWidth)
        let vertical = Axis(input: height, output: newHeight)
        let rowLength = newWidth * channels
        var rows = [Float](repeating: 0, count: height * rowLength)
        for image in 0..<count {
            resample(input + image &* width &* height &* channels, width: width, height: height, channels: channels,
                     horizontal: horizontal, vertical: vertical, rows: &rows,
                     into: output + image &* newWidth &* newHeight &* channels)
        }
    }

    private static func resample<Pixel: ResampledPixel>(
        _ input: UnsafePointer<Pixel>, width: Int, height: Int, channels: Int, horizontal: Axis, vertical: Axis,
        rows: inout [Float], into output: UnsafeMutablePointer<Pixel>
    ) {
        let newWidth = horizontal.tapStart.count - 1
        let newHeight = vertical.tapStart.count - 1
        let rowLength = newWidth * channels
        // Horizontal pass: every source row to `newWidth` columns, kept in Float.
        rows.withUnsafeMutableBufferPointer { rows in
            horizontal.tapStart.withUnsafeBufferPointer { starts in
                horizontal.tapSource.withUnsafeBufferPointer { sources in
                    horizontal.tapWeight.withUnsafeBufferPointer { weights in
                        for y in 0..<height {
                            let sourceRow = y &* width &* channels
                            let targetRow = y &* rowLength
                            for x in 0..<newWidth {
                                for channel in 0..<channels {
                                    var sum: Float = 0
                                    for tap in starts[x]..<starts[x &+ 1] {
                                        let index = sourceRow &+ sources[tap] &* channels &+ channel
                                        sum += input[index].resamplerValue * weights[tap]
                                    }
                                    rows[targetRow &+ x &* channels &+ channel] = sum
                                }
                            }
                        }
                    }
                }
            }
        }
        // Vertical pass: combine the filtered rows.
        rows.withUnsafeBufferPointer { rows in
            vertical.tapStart.withUnsafeBufferPointer { starts in
                vertical.tapSource.withUnsafeBufferPointer { sources in
                    vertical.tapWeight.withUnsafeBufferPointer { weights in
                        for y in 0..<newHeight {
                            let targetRow = y &* rowLength
                            for column in 0..<rowLength {
                                var sum: Float = 0
                                for tap in starts[y]..<starts[y &+ 1] {
                                    sum += rows[sources[tap] &* rowLength &+ column] * weights[tap]
                                }
                                output[targetRow &+ column] = Pixel(resampled: sum)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A value `Resampler` reads and writes: 8-bit pixels (rounded to nearest, ties to even, and saturated when
/// stored) or Float model inputs (stored as computed).
protocol ResampledPixel {
    var resamplerValue: Float { get }
    init(resampled value: Float)
}

extension UInt8: ResampledPixel {
    var resamplerValue: Float { Float(self) }
    init(resampled value: Float) { self = UInt8(Swift.min(Swift.max(value.rounded(.toNearestOrEven), 0), 255)) }
}

extension Float: ResampledPixel {
    var resamplerValue: Float { self }
    init(resampled value: Float) { self = value }
}

/// Resampling of square single-channel Float images (model inputs), as `GrayImage.resized(width:height:)` resamples
/// pixels: area averaging to shrink, bilinear interpolation to grow. The weights of each output value sum to 1, so
/// resampling commutes with a preprocessing of the form `x * scale + offset`.
public enum FloatImageResampling {
    /// Writes `count` images of `size` x `size` values at `input` into `count` images of `newSize` x `newSize` at
    /// `output` (sizes positive; the buffers must not overlap).
    public static func resample(_ input: UnsafePointer<Float>, count: Int, size: Int, to newSize: Int,
                                into output: UnsafeMutablePointer<Float>) {
        precondition(size > 0 && newSize > 0, "image sizes must be positive, got \(size) and \(newSize)")
        if size == newSize {
            output.update(from: input, count: count &* size &* size)
        } else {
            Resampler.resample(input, count: count, width: size, height: size, channels: 1, newWidth: newSize,
                               newHeight: newSize, into: output)
        }
    }
}

extension GrayImage {
    /// This image resampled to `width` x `height`: area averaging along an axis that shrinks
    /// (OpenCV `INTER_AREA`), bilinear interpolation with half-pixel centres along one that grows.
    public func resized(width newWidth: Int, height newHeight: Int) -> GrayImage {
        GrayImage(width: newWidth, height: newHeight,
                  pixels: Resampler.resample(pixels, width: width, height: height, channels: 1,
                                             newWidth: newWidth, newHeight: newHeight))
    }
}

extension RGBImage {
    /// This image resampled to `width` x `height` (see `GrayImage.resized(width:height:)`).
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        RGBImage(width: newWidth, height: newHeight,
                 pixels: Resampler.resample(pixels, width: width, height: height, channels: 3,
                                            newWidth: newWidth, newHeight: newHeight))
    }
}
