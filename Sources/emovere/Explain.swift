import ArgumentParser
import Emovere
import EmovereCore
import EmovereData
import EmovereFiles
import EmovereVision
import Foundation

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which parts of each face decided its emotion: Grad-CAM and guided backpropagation.",
        discussion: """
            For every face found in the photo, explains its most probable emotion (or --emotion) with Grad-CAM: \
            the gradients of the emotion's score weigh the feature maps of one layer of the network (--layer), \
            giving a heat map that is drawn over the face (red: decisive, blue: ignored), with the usual box, \
            label and probability bars. --guided also writes a panel with, per face, the face as the model saw \
            it, the heat map, guided backpropagation and guided Grad-CAM.

            Output files are PNG or JPEG, by their extension. Exit status 1 when the photo cannot be read or \
            holds no face.
            """)

    @Argument(help: "The photo (.jpg, .jpeg or .png), its http(s) URL (downloaded as analyze downloads one), or - for standard input.")
    var photo: String

    @Option(help: ArgumentHelp(
        "The photo with heat maps (default: <name>.explained.png, or .jpg for a JPEG, in the current folder).",
        valueName: "FILE"))
    var out: String?

    @Option(help: ArgumentHelp(
        "Also write a panel of each face's Grad-CAM, guided backpropagation and guided Grad-CAM.", valueName: "FILE"))
    var guided: String?

    @Option(help: ArgumentHelp(
        "Explain this emotion for every face instead of each face's most probable one.", valueName: "NAME"))
    var emotion: Emotion?

    @Option(help: ArgumentHelp(
        "The network layer (index in the model's top level) whose feature maps Grad-CAM weighs; an invalid "
            + "index lists the valid ones (default: the deepest one before the class scores, e.g. 3x3x512 in the default "
            + "wide-xception).",
        valueName: "INDEX"))
    var layer: Int?

    @Option(help: "Most faces explained (the largest); the rest are counted as skippedFaces. Each face costs a backward pass and a row of the --guided panel.")
    var maxFaces = 64

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var detection: DetectorOptions

    @OptionGroup var imageLimits: ImageLimitOptions

    /// The annotated photo's path.
    var output: String { out ?? Self.defaultOutput(for: photo) }

    func validate() throws {
        if photo == PhotoFiles.standardInput { try PhotoFiles.checkStandardInputIsPiped() }
        guard (1...10_000).contains(maxFaces) else {
            throw ValidationError("--max-faces must be 1-10000, received \(maxFaces)")
        }
        for (option, path) in [("--out", output), ("--guided", guided)] {
            if let path {
                try OutputPaths.checkFileName(path, option: option, kind: "an image file", extensions: ["png", "jpg", "jpeg"])
            }
        }
        try OutputPaths.checkDistinct([("--out", output), ("--guided", guided)], inputs: [photo] + detection.inputFiles,
                                      inputName: "an input (the photo or a model)")
    }

    func run() throws {
        let recognizer = try detection.makeTrainableRecognizer()
        let explainer = try Self.makeExplainer(recognizer: recognizer, layer: layer)
        let analysis = try Self.analyze(photo, with: recognizer, limits: imageLimits.limits(), maximumFaces: maxFaces)
        let shown = PhotoFiles.shownName(of: photo)
        guard !analysis.faces.isEmpty else {
            let remedy = switch detection.detector {
            case .yunet: "try a lower --score-threshold or a larger --detection-size, --detector haar, "
            case .haar: "try a lower --min-neighbors or --scale-factor, --detector yunet, "
            case .none: ""
            }
            throw CommandFailure("no face found in \(shown); \(remedy)or --detector none for a photo that is a face crop")
        }
        let renderer = ExplanationRenderer()
        // Checked before the explanations are computed: a JPEG side is at most 65,500 pixels.
        let side = max(analysis.image.width, analysis.image.height)
        if AnnotatedPhoto.format(ofOutput: output) == .jpeg, side > ImageCodec.maximumJPEGSide {
            throw CommandFailure("--out \(output): the photo is \(analysis.image.width)x\(analysis.image.height) pixels, over JPEG's limit of \(ImageCodec.maximumJPEGSide) pixels a side; name a .png file")
        }
        if let guided, AnnotatedPhoto.format(ofOutput: guided) == .jpeg {
            let height = renderer.panelHeight(faceCount: analysis.faces.count)
            guard height <= ImageCodec.maximumJPEGSide else {
                throw CommandFailure("--guided \(guided): the panel of \(analysis.faces.count) faces would be \(height) pixels high, over JPEG's limit of \(ImageCodec.maximumJPEGSide); name a .png file")
            }
        }
        let faces = try explainer.explain(analysis, emotion: emotion)

        try AnnotatedPhoto.write(renderer.overlaid(analysis.image, faces: faces), to: output)
        if let guided { try AnnotatedPhoto.write(renderer.panel(faces: faces), to: guided) }
        // Reported in the stored photo's pixels, as `analyze` reports them (the drawing is on the decoded image).
        let records = zip(analysis.faces, faces).map { FaceRecord($0, explained: $1.emotion) }
        let report = ExplainReport(
            path: RemoteAddress.hidingPassword(in: photo), width: analysis.width, height: analysis.height, layer: explainer.gradCAM.layer.description,
            detector: recognizer.detector.description, faces: records, skippedFaces: analysis.skippedFaces, output: output,
            guided: guided)
        if json {
            print(String(decoding: try JSONEncoder.sortedKeys(pretty: true).encode(report), as: UTF8.self))
        } else {
            print(report.table)
        }
    }

    /// The explainer at `layer`; an invalid layer's error names the option.
    static func makeExplainer(recognizer: EmotionRecognizer, layer: Int?) throws -> FaceExplainer {
        do {
            return try FaceExplainer(recognizer: recognizer, layerIndex: layer)
        } catch {
            throw layer == nil ? error : ValidationError("--layer: \(error)")  // a usage error: exit status 64
        }
    }

    /// The photo analysed on the one photo-analysis path of `analyze` and the server: at most `maximumFaces`, the largest.
    static func analyze(_ photo: String, with recognizer: EmotionRecognizer, limits: ImageLimits,
                        maximumFaces: Int) throws -> PhotoAnalysis {
        let shown = PhotoFiles.shownName(of: photo)
        do {
            let content = try PhotoFiles.contents(of: photo, downloader: PhotoDownloader())
            return try recognizer.analyzePhoto(content, source: shown, limits: limits,
                                               maximumFaces: maximumFaces)
        } catch {
            throw CommandFailure(PhotoResult.naming(shown, in: "\(error)"))
        }
    }

    /// `<name>.explained.png` (`.jpg` for a JPEG photo) in the current folder; a URL's photo is named by the last
    /// part of its path, or its host, standard input's `stdin`.
    static func defaultOutput(for photo: String) -> String {
        let (name, isHost) = PhotoFiles.outputName(of: photo)
        let suffix = AnnotatedPhoto.format(ofOutput: name) == .jpeg ? "jpg" : "png"
        return "\(isHost ? name : (name as NSString).deletingPathExtension).explained.\(suffix)"
    }

}

extension Emotion: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.name) }
}
