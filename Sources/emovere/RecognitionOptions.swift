import ArgumentParser
import Emovere

/// Face detection, model and tracking options shared by `video` and `live`.
struct RecognitionOptions: ParsableArguments {
    @Option(help: "Run the full-frame face detector every N frames (1: every frame); faces are followed in between.")
    var every = 1

    @Option(help: "Smoothing weight of the newest frame in each track's moving average, in (0, 1]; 1 is off.")
    var smoothing: Float = 1

    @OptionGroup var detection: DetectorOptions

    @OptionGroup var arithmetic: PrecisionOptions

    func validate() throws {
        guard every >= 1 else { throw ValidationError("--every: expected 1 or more, found \(every)") }
        guard smoothing > 0 && smoothing <= 1 else {
            throw ValidationError("--smoothing: expected a weight in (0, 1] (1 is off), found \(smoothing)")
        }
    }

    /// The recognizer these options describe.
    func makeRecognizer() throws -> EmotionRecognizer {
        try detection.makeRecognizers(count: 1, precision: arithmetic.precision)[0]
    }

    /// A tracker of `recognizer` (from `makeRecognizer()`) with these options' settings, keeping a summary of each
    /// track when `keepsSummaries` (a video's report; not a camera's endless run).
    func makeTracker(_ recognizer: EmotionRecognizer, keepsSummaries: Bool = true) throws -> VideoEmotionTracker {
        try VideoEmotionTracker(recognizer: recognizer, settings: .init(detectionInterval: every, smoothing: smoothing,
                                                                        keepsSummaries: keepsSummaries))
    }
}
