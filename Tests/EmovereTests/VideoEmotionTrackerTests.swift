import Emovere
import EmovereNN
import EmovereVision
import Testing

/// The video pipeline's per-track summaries: kept for a video's report, not for a camera's endless run.
struct VideoEmotionTrackerTests {
    static func tracker(keepsSummaries: Bool) throws -> VideoEmotionTracker {
        let model = try Model(architecture: Architecture(name: "mini-xception", inputSize: 48), seed: 5)
        let card = ModelCard(architecture: model.architecture, preprocessing: .symmetric(inputSize: 48),
                             parameterCount: model.parameterCount)
        let recognizer = EmotionRecognizer(model: try model.inferenceModel(), card: card, detector: WholeImageDetector())
        return try VideoEmotionTracker(recognizer: recognizer, settings: .init(keepsSummaries: keepsSummaries))
    }

    @Test func summariesAreKeptOnlyWhenAsked() throws {
        let frame = GrayImage(width: 64, height: 64, pixels: (0..<(64 * 64)).map { UInt8($0 % 253) })
        for keeps in [true, false] {
            let tracker = try Self.tracker(keepsSummaries: keeps)
            var tracks = Set<Int>()
            for index in 0..<3 { tracks.formUnion(tracker.process(frame, index: index).map(\.track)) }
            #expect(tracks == [1])
            #expect(tracker.summaries.count == (keeps ? 1 : 0))
            #expect(tracker.summaries[1]?.frames == (keeps ? 3 : nil))
        }
    }
}
