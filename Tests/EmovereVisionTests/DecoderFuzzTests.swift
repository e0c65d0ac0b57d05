import EmovereTestSupport
import Foundation
import Testing
@testable import EmovereVision

/// Seeded mutation fuzzing of the image decoders and the cascade reader: every mutated input either decodes to a
/// consistent image or fails with a typed error naming the input; none crashes or hangs. Longer runs:
/// `EMOVERE_FUZZ_CASES=100000 swift test --filter FuzzTests` (see scripts/fuzz.sh).
struct DecoderFuzzTests {
    /// Cases per input kind: a few thousand in the suite, more from the environment.
    static var cases: Int { ProcessInfo.processInfo.environment["EMOVERE_FUZZ_CASES"].flatMap(Int.init) ?? 1500 }

    /// A small colour test card with edges and gradients, so every JPEG and PNG feature has something to code.
    static func testCard(width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y] = (UInt8(x * 255 / width), UInt8(y * 255 / height), (x / 4 + y / 4) % 2 == 0 ? 40 : 220)
            }
        }
        return image
    }

    static func fuzzDecoding(seeds: [[UInt8]], seed: UInt64) {
        var mutator = Mutator(seed: seed)
        let limits = ImageLimits(maximumPixels: 1 << 22)
        for index in 0..<cases {
            let input = mutator.mutate(seeds[index % seeds.count])
            let source = "case \(index)"
            do {
                let color = try RGBImage(decoding: input, source: source, limits: limits)
                #expect(color.pixels.count == color.width * color.height * 3 && color.width > 0 && color.height > 0)
                let gray = try GrayImage(decoding: input, source: source, limits: limits)
                #expect(gray.width == color.width && gray.height == color.height)
            } catch {
                #expect(error.description.contains(source), "\(error)")
            }
        }
    }

    @Test func mutatedJPEGsDecodeOrFailWithATypedError() throws {
        let card = Self.testCard(width: 40, height: 24)
        let cmyk = [UInt8](try Data(contentsOf: URL(fileURLWithPath: HaarFixtures.path("cmyk.jpg"))))
        Self.fuzzDecoding(seeds: [try card.jpegData(quality: 90), try card.grayscale().jpegData(quality: 75), cmyk],
                          seed: 1)
    }

    @Test func mutatedPNGsDecodeOrFailWithATypedError() throws {
        let card = Self.testCard(width: 24, height: 16)
        Self.fuzzDecoding(seeds: [try card.pngData(), try card.grayscale().pngData()], seed: 2)
    }

    @Test func mutatedCascadesParseOrFailWithATypedError() {
        var mutator = Mutator(seed: 3)
        let valid = Array(HaarFixtures.tinyCascadeXML().utf8)
        for index in 0..<Self.cases {
            let source = "case \(index).xml"
            do {
                let cascade = try HaarCascade(xmlBytes: mutator.mutate(valid), source: source)
                #expect(cascade.windowWidth > 0 && cascade.windowHeight > 0)
            } catch {
                #expect(error.description.contains(source), "\(error)")
            }
        }
    }
}
