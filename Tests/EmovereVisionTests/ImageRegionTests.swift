import EmovereCore
import EmovereVision
import Foundation
import Testing

struct ImageRegionTests {
    /// A smooth pattern (periods of 20-50 px), so that bilinear sampling is close to the pattern itself.
    static func pattern(_ x: Double, _ y: Double) -> Double {
        128 + 50 * sin(x / 7 + 0.3) + 40 * cos(y / 5 - 0.2) + 20 * sin((x + y) / 9)
    }

    /// A `width` x `height` image of `pattern` turned by `angle` radians (clockwise as displayed) about `centre`:
    /// what was at `p` is at `centre + R(angle) (p - centre)`.
    static func image(width: Int, height: Int, turnedBy angle: Double = 0, about centre: (x: Double, y: Double))
        -> GrayImage {
        var pixels = [UInt8]()
        for y in 0..<height {
            for x in 0..<width {
                let dx = Double(x) + 0.5 - centre.x, dy = Double(y) + 0.5 - centre.y
                let sourceX = centre.x + dx * cos(angle) + dy * sin(angle)
                let sourceY = centre.y - dx * sin(angle) + dy * cos(angle)
                pixels.append(UInt8(pattern(sourceX, sourceY).rounded()))
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    static func meanAbsoluteDifference(_ a: GrayImage, _ b: GrayImage) -> Double {
        zip(a.pixels, b.pixels).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(a.pixels.count)
    }

    /// A region turned with the content brings the content back upright: sampled from a turned copy of a pattern it
    /// matches the upright region of the pattern, at the photo's scale and shrunk 3x (area averaging first), for
    /// turns either way and past 90 degrees; left unturned it does not.
    @Test(arguments: [0.5, -0.35, 2.0])
    func aTurnedRegionSamplesTheContentUpright(angle: Float) {
        let centre = (x: 61.0, y: 57.0)
        let upright = Self.image(width: 120, height: 110, about: centre)
        let turned = Self.image(width: 120, height: 110, turnedBy: Double(angle), about: centre)
        let rect = Rect(x: 31, y: 27, width: 60, height: 60)
        for side in [60, 20] {
            let expected = upright.sampled(ImageRegion(rect: rect), width: side, height: side)
            let levelled = turned.sampled(ImageRegion(rect: rect, angle: angle), width: side, height: side)
            let unturned = turned.sampled(ImageRegion(rect: rect), width: side, height: side)
            #expect(Self.meanAbsoluteDifference(levelled, expected) < 2.5, "side \(side)")
            #expect(Self.meanAbsoluteDifference(unturned, expected) > 15, "side \(side)")
        }
    }

    /// Supersampling keeps the detail that one bilinear pass at the output's resolution blurs when a face is
    /// shrunk (a 160-px face to 40 px, as a photo's face to the model's input): levelled, a pattern of 6-7 output
    /// pixels' periods turned by 0.3 rad is closer to the upright crop with the default 4x than with 1x.
    @Test func supersamplingKeepsFineDetail() {
        func fine(_ x: Double, _ y: Double) -> Double { 128 + 60 * sin(x / 4) + 50 * cos(y * 0.9 / 4) }
        let centre = (x: 160.0, y: 160.0), angle = 0.3
        func image(turnedBy angle: Double) -> GrayImage {
            var pixels = [UInt8]()
            for y in 0..<320 {
                for x in 0..<320 {
                    let dx = Double(x) + 0.5 - centre.x, dy = Double(y) + 0.5 - centre.y
                    pixels.append(UInt8(fine(centre.x + dx * cos(angle) + dy * sin(angle),
                                             centre.y - dx * sin(angle) + dy * cos(angle)).rounded()))
                }
            }
            return GrayImage(width: 320, height: 320, pixels: pixels)
        }
        let rect = Rect(x: 80, y: 80, width: 160, height: 160)
        let expected = image(turnedBy: 0).sampled(ImageRegion(rect: rect), width: 40, height: 40)
        let turned = image(turnedBy: angle)
        let region = ImageRegion(rect: rect, angle: Float(angle))
        let supersampled = Self.meanAbsoluteDifference(turned.sampled(region, width: 40, height: 40), expected)
        let single = Self.meanAbsoluteDifference(turned.sampled(region, width: 40, height: 40, supersampling: 1), expected)
        #expect(supersampled < 0.8 * single, "4x: \(supersampled), 1x: \(single)")
    }

    /// An unturned region is the crop (edges repeated) resized; its bounding box is itself.
    @Test func anUnturnedRegionIsTheResizedCrop() {
        let image = Self.image(width: 50, height: 40, about: (25, 20))
        let rect = Rect(x: -5, y: 10, width: 30, height: 36)
        #expect(image.sampled(ImageRegion(rect: rect), width: 12, height: 12)
                == image.croppedExtendingEdges(to: rect).resized(width: 12, height: 12))
        #expect(ImageRegion(rect: rect).boundingBox == rect)
    }

    /// A quarter turn swaps the sides of the bounding box about the same centre; a turned region past the image
    /// repeats the edge pixels (a one-colour image stays one colour).
    @Test func boundingBoxAndEdges() {
        let region = ImageRegion(rect: Rect(x: 10, y: 20, width: 40, height: 20), angle: .pi / 2)
        #expect(region.boundingBox == Rect(x: 20, y: 10, width: 20, height: 40))
        let corner = region.point(across: 0, down: 0)
        #expect(abs(corner.x - 40) < 1e-4 && abs(corner.y - 10) < 1e-4, "\(corner)")
        let flat = GrayImage(width: 8, height: 8, pixels: [UInt8](repeating: 77, count: 64))
        let outside = flat.sampled(ImageRegion(rect: Rect(x: -20, y: 4, width: 30, height: 30), angle: 0.7),
                                   width: 10, height: 10)
        #expect(outside.pixels.allSatisfy { $0 == 77 })
    }

    /// The bilinear sampler against a naive twin in double precision: random affine maps over a non-square image,
    /// reaching past its edges, with repeated edges and with a constant outside (two or more pixels past an edge, the
    /// nearest edge pixel or the constant).
    @Test(arguments: [nil, Float(40)])
    func affineSamplerMatchesItsReference(outside: Float?) {
        var random = SplitMix64(seed: 12)
        let (width, height) = (9, 6)
        let source = (0..<(width * height)).map { _ in Float(random.nextUnit() * 255) }
        func reference(_ x: Double, _ y: Double) -> Double {
            let (floorX, floorY) = (x.rounded(.down), y.rounded(.down))
            if floorX <= -2 || floorX >= Double(width + 1) || floorY <= -2 || floorY >= Double(height + 1) {
                if let outside { return Double(outside) }
                let column = Int(min(max(x, 0), Double(width - 1)).rounded())
                let row = Int(min(max(y, 0), Double(height - 1)).rounded())
                return Double(source[row * width + column])
            }
            func pixel(_ column: Int, _ row: Int) -> Double {
                if (0..<width).contains(column) && (0..<height).contains(row) { return Double(source[row * width + column]) }
                if let outside { return Double(outside) }
                return Double(source[min(max(row, 0), height - 1) * width + min(max(column, 0), width - 1)])
            }
            let (x0, y0) = (Int(x.rounded(.down)), Int(y.rounded(.down)))
            let (wx, wy) = (x - Double(x0), y - Double(y0))
            let top = pixel(x0, y0) * (1 - wx) + pixel(x0 + 1, y0) * wx
            let bottom = pixel(x0, y0 + 1) * (1 - wx) + pixel(x0 + 1, y0 + 1) * wx
            return top * (1 - wy) + bottom * wy
        }
        for _ in 0..<20 {
            let draw = { (scale: Double) in Float(Double(random.nextUnit() * 2 - 1) * scale) }
            let sampler = AffineSampler(a: draw(1.2), b: draw(1.2), e: draw(6), c: draw(1.2), d: draw(1.2), f: draw(5),
                                        outside: outside)
            let (outputWidth, outputHeight) = (7, 11)
            var output = [Float](repeating: -1, count: outputWidth * outputHeight)
            source.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { result in
                    sampler.sample(input.baseAddress!, width: width, height: height, into: result.baseAddress!,
                                   width: outputWidth, height: outputHeight)
                }
            }
            for y in 0..<outputHeight {
                for x in 0..<outputWidth {
                    let sourceX = Double(sampler.a) * Double(x) + Double(sampler.b) * Double(y) + Double(sampler.e)
                    let sourceY = Double(sampler.c) * Double(x) + Double(sampler.d) * Double(y) + Double(sampler.f)
                    #expect(abs(Double(output[y * outputWidth + x]) - reference(sourceX, sourceY)) < 1e-2,
                            "(\(x), \(y)) of \(sampler)")
                }
            }
        }
    }
}
