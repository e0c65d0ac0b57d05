import ArgumentParser
import EmovereVision

/// `--max-pixels` and `--max-decoded-pixels`, shared by `analyze`, `explain` and `serve`; each command passes its
/// own defaults to `limits(defaults:)`.
struct ImageLimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Largest photo accepted, in pixels (width x height), checked before decoding (default: 100000000; serve: 40000000).",
        valueName: "N"))
    var maxPixels: Int?

    @Option(help: ArgumentHelp(
        "Decode a JPEG larger than this many pixels at a reduced scale (n/8: faster, less memory; faces still reported in the photo's own pixels, drawn on the reduced image) (default: full size; serve: 16000000).",
        valueName: "N"))
    var maxDecodedPixels: Int?

    func validate() throws {
        let range = ImageLimits.settableRange
        for (option, value) in [("--max-pixels", maxPixels), ("--max-decoded-pixels", maxDecodedPixels)] {
            if let value, !range.contains(value) {
                throw ValidationError("\(option) must be in \(range.lowerBound)...\(range.upperBound) pixels, received \(value)")
            }
        }
    }

    /// `defaults` with the options given on the command line in place of its values.
    func limits(defaults: ImageLimits = .standard) -> ImageLimits {
        ImageLimits(maximumPixels: maxPixels ?? defaults.maximumPixels,
                    maximumDecodedPixels: maxDecodedPixels ?? defaults.maximumDecodedPixels)
    }
}
