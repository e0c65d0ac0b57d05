import Foundation
import Testing

/// Every command refuses, before any work, an output that would overwrite one of its inputs or another of its
/// outputs, or whose name does not say what it will hold (`OutputPaths`). No model is loaded and no file written.
struct OutputPathTests {
    static let model = AnalyzeTests.root + "/models/tiny.safetensors"
    static let photo = AnalyzeTests.sample
    static let yunet = AnalyzeTests.root + "/models/face_detection_yunet_2026may.onnx"

    @Test(arguments: [
        // export: its own model destroyed by ONNX bytes.
        (["export", model, "--onnx", model], "--onnx \(model) is the model file"),
        (["export", model, "--onnx", "/tmp/model.safetensors"], "expected an ONNX file name ending in .onnx"),
        // analyze: the results lines and the annotated photo in one file.
        (["analyze", "--model", model, photo, "--output", "/tmp/o.png", "--annotate", "/tmp/o.png"],
         "--annotate and --output both name /tmp/o.png"),
        (["analyze", "--model", model, photo, "--output", photo], "--output \(photo) is one of the inputs"),
        // The bundled detector is an input too, named or not.
        (["analyze", "--model", model, photo, "--output", yunet], "--output \(yunet) is one of the inputs"),
        // video: the summary lines and the timeline in one file.
        (["video", "--model", model, "/tmp/in.mp4", "--output", "/tmp/v.csv", "--csv", "/tmp/v.csv"],
         "--output and --csv both name /tmp/v.csv"),
        (["video", "--model", model, "/tmp/in.mp4", "--out", "/tmp/annotated.txt"], "expected a video file name ending in"),
        (["video", "--model", model, "/tmp/in.mp4", "--out", "/tmp"], "--out /tmp is a folder"),
        // explain: the guided panel over the heat map.
        (["explain", "--model", model, photo, "--out", "/tmp/x.png", "--guided", "/tmp/x.png"],
         "--guided and --out both name /tmp/x.png"),
        // evaluate: the diagram over the JSON report, or written as something else.
        (["evaluate", "--model", model, "--data", "/tmp", "--output", "/tmp/e.json", "--reliability-diagram", "/tmp/e.json"],
         "--reliability-diagram and --output both name /tmp/e.json"),
        (["evaluate", "--model", model, "--data", "/tmp", "--reliability-diagram", "/tmp/r.png"], "ending in .svg"),
        (["evaluate", "--model", model, "--data", "/tmp", "--output", ""], "--output needs a file path"),
        (["evaluate", "--model", model, "--data", "/tmp", "--output", "/tmp"], "--output /tmp is a folder"),
        (["evaluate", "--model", model, "--data", "/tmp", "--output", model + "/e.json"], "\(model) is a file, not a folder"),
        (["bench", "--training-only", "--training-batch", "0"], "--training-only times training, which --training-batch 0 skips"),
        (["bench", "--no-onnx", "--onnx-model", model], "--onnx-model is the ONNX Runtime comparison's model, which --no-onnx skips"),
        (["bench", "--onnx-model", "/nonexistent/model.onnx"], "--onnx-model: cannot read /nonexistent/model.onnx"),
        (["bench", "--onnx-model", "/tmp"], "--onnx-model: cannot read /tmp: expected a regular file, found a folder"),
        (["bench", "--inference-batches", "1", "1"], "--inference-batches lists a batch size twice (1 1)"),
        (["bench", "--detector", "--keras"], "--detector measures the face detectors; --keras measures a model"),
        (["bench", "--detector", "--precision", "bfloat16"], "--precision applies to the model measurements"),
        (["bench", "--training-only", "--layers"], "--layers times inference, which --training-only skips"),
        (["bench", "--inference-batches", "1", "100000"], "a batch is at most 150994944 pixels"),
        (["bench", "--input-size", "512", "--inference-batches", "1024"], "received 1024 faces of 512x512"),
        (["bench", "--training-batch", "9223372036854775807"], "received 9223372036854775807 faces of 48x48"),
        (["evaluate", "--model", model, "--data", "/tmp", "--record", "--note", " "], "--note needs some text"),
        (["evaluate", "--model", model, "--data", "/tmp", "--record", "--note", "robustness: mine"],
         "--note may not start with \"evaluation:\" or \"robustness:\""),
        // average: an input overwritten, counted twice, or a model written without its extension.
        (["average", model, "/tmp/b.safetensors", "--out", model], "--out \(model) is one of the snapshots"),
        (["average", model, model, "--out", "/tmp/m.safetensors"], "\(model) is given twice"),
        (["average", model, "/tmp/b.safetensors", "--out", "/tmp/m.txt"], "expected a model file name ending in .safetensors"),
        (["average", model, "--statistics-data", "/nonexistent/fer2013", "--out", "/tmp/m.safetensors"],
         "--statistics-data /nonexistent/fer2013: no such file or folder"),
        (["import-keras", "/tmp/a.h5", "--out", "/tmp/a.h5"], "expected a model file name ending in .safetensors"),
        (["import-keras", "/tmp/a.safetensors", "--out", "/tmp/a.safetensors"], "is the Keras file"),
        // live: a rate or size no camera delivers, capture settings for a file, an unwritable container.
        (["live", "--model", model, "--fps", "inf"], "at most 1000 frames per second"),
        (["live", "--model", model, "--size", "99999x99999"], "each side 1-8192 pixels"),
        (["live", "--model", model, "--input", "/tmp/in.mp4", "--fps", "30"], "an --input file or a --stream plays at its own rate"),
        (["live", "--model", model, "--input", "/tmp/in.mp4", "--out", "/tmp/live.txt"], "expected a video file name"),
        // live --stream: a URL of no stream protocol, two sources, a timeout without a stream or out of range.
        (["live", "--model", model, "--stream", "ftp://camera/1"], "found the scheme 'ftp'"),
        (["live", "--model", model, "--stream", "rtsp://camera/1", "--input", "/tmp/in.mp4"],
         "use one of --camera, --input and --stream, not --input and --stream"),
        (["live", "--model", model, "--stream-timeout", "5"], "--stream-timeout applies to a --stream"),
        (["live", "--model", model, "--stream", "rtsp://camera/1", "--stream-timeout", "0"], "expected seconds above 0"),
        (["live", "--model", model, "--stream", "rtsp://camera/1", "--fps", "30"], "a --stream plays at its own rate"),
    ] as [([String], String)])
    func refusedBeforeAnyWork(arguments: [String], message: String) throws {
        let result = try CommandRunner.run(arguments)
        #expect(result.status == 64 && result.standardError.contains(message), "\(result)")
    }

    /// A model written where its card cannot go (a folder named like the card) is refused before any work: it was
    /// written, then the card failed, leaving a model beside a stale or missing card.
    @Test func modelWhoseCardPathIsAFolderIsRefused() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.path + "/y.card.json", withIntermediateDirectories: true)
        let out = scratch.path + "/y.safetensors"
        let result = try CommandRunner.run(["average", Self.model, AnalyzeTests.root + "/models/tiny-robust.safetensors",
                                            "--out", out])
        #expect(result.status == 64 && result.standardError.contains("its card \(scratch.path)/y.card.json would be written beside it, but that is a folder"),
                "\(result)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
