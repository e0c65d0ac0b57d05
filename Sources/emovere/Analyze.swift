import ArgumentParser
import Dispatch
import Emovere
import EmovereCore
import EmovereData
import EmovereFiles
import EmovereNN
import EmovereReport
import EmovereVision
import Foundation

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find faces in photos and recognise their emotions.",
        discussion: """
            Folders are searched for .jpg, .jpeg and .png files (links to files and folders are followed, each \
            folder once, so a link loop cannot trap the search). Exit status 1 if any file could not be read \
            (or its annotated copy could not be written), or if the photos and folders given hold no photo (an \
            empty --files-from list is nothing to do: status 0).

            An http or https URL names a photo on a web server: curl downloads it into memory (nothing is saved), \
            up to 256 MiB, and it fails when the server answers with an error status or a web page, sends under \
            one byte a second for 30 s or takes 300 s in all. A password in the URL \
            (https://user:password@host/photo.jpg) is sent as basic authentication and shown as *** everywhere. \
            - reads one photo (up to 256 MiB) from standard input (convert photo.heic jpg:- | emovere analyze -); \
            in a --files-from list, - is a file of that name.

            --annotate draws each face's box, top emotion and probability bars on the photo. With one photo, \
            OUT is the output file (PNG or JPEG, by its extension); with several photos or a folder, OUT is a \
            folder that receives <name>.annotated.png (or .jpg, after the input's format) for every photo.

            A photo whose name starts with a dash is read as an option: put -- before the paths \
            (emovere analyze -- -dash.jpg) or write ./-dash.jpg; emovere refuses such a name with this advice \
            rather than guess. File names must be valid UTF-8.
            """)

    @Argument(help: "Photos, folders of photos, http(s) URLs of photos, or - for one photo on standard input.")
    var paths: [String] = []

    @Flag(help: "Print JSON (one object per image) instead of a table.")
    var json = false

    @OptionGroup var detection: DetectorOptions

    @OptionGroup var arithmetic: PrecisionOptions

    @OptionGroup var imageLimits: ImageLimitOptions

    /// The limits every photo is decoded under.
    var limits: ImageLimits { imageLimits.limits() }

    @Option(name: .customLong("annotate"), help: ArgumentHelp(
        "Write annotated copies: the output file for one photo, an output folder for several.", valueName: "OUT"))
    var annotate: String?

    @Option(help: ArgumentHelp(
        "Write one JSON line per photo to this file as each finishes (JSON Lines; memory stays flat however many photos; an existing file only with --resume).",
        valueName: "results.jsonl"))
    var output: String?

    @Flag(help: "With --output: skip the photos whose line the file already holds without an error (continue a stopped run; failed ones are tried again).")
    var resume = false

    @Option(help: ArgumentHelp("Also read photo paths from this file, one per line ('-': standard input).", valueName: "FILE"))
    var filesFrom: String?

    @Option(help: ArgumentHelp(
        "Analyse only share K of N (1 <= K <= N), chosen by a hash of each path: N processes or machines split a collection without talking to each other.",
        valueName: "K/N"))
    var shard: Shard?

    func validate() throws {
        if paths.isEmpty && filesFrom == nil { throw ValidationError("expected photos or folders, or --files-from") }
        if resume && output == nil { throw ValidationError("--resume needs --output") }
        let standardInputs = paths.filter { $0 == PhotoFiles.standardInput }.count
        if standardInputs > 1 { throw ValidationError("- (standard input) holds one photo: name it once") }
        if standardInputs == 1 && filesFrom == "-" {
            throw ValidationError("- (a photo on standard input) and --files-from - (a list on standard input) cannot both read it")
        }
        if standardInputs == 1 && resume {
            throw ValidationError("- (a photo on standard input) cannot go with --resume: another photo on standard input would be skipped as done")
        }
        if standardInputs == 1 && shard != nil {
            throw ValidationError("- (a photo on standard input) cannot go with --shard: one shard alone would analyse it")
        }
        if standardInputs == 1 { try PhotoFiles.checkStandardInputIsPiped() }
        if output != nil && json { throw ValidationError("--output writes JSON lines; leave out --json") }
        if output == "-" && (filesFrom != "-" || !paths.isEmpty || resume || annotate != nil || shard != nil) {
            throw ValidationError("--output - (the worker mode) reads paths from --files-from - alone, without --resume, --annotate or --shard")
        }
        if output != "-" {
            let lists = filesFrom.flatMap { $0 == "-" ? nil : [$0] } ?? []
            try OutputPaths.checkDistinct([("--output", output)], inputs: paths + lists + detection.inputFiles)
            // --annotate may be a folder beside or inside the inputs (its files are left out of them).
            try OutputPaths.checkDistinct([("--output", output), ("--annotate", annotate)], foldersAllowed: true)
        }
        // With --files-from the inputs are known only once the list is read (run()).
        if let annotate, filesFrom == nil { _ = try AnnotationTarget(output: annotate, inputs: paths) }
    }

    func run() throws {
        if output == "-" { return try runWorker() }
        let listed = try filesFrom.map(PhotoFiles.listed(in:)) ?? []
        if let output { try OutputPaths.checkDistinct([("--output", output)], inputs: listed) }
        let target = try annotate.map { try AnnotationTarget(output: $0, inputs: paths + listed) }
        var annotationFolder: String?
        if case let .folder(folder)? = target { annotationFolder = folder }
        let expanded = try PhotoFiles.expand(paths, listed: listed, skippingCopiesIn: annotationFolder)
        guard !expanded.isEmpty else {
            guard !paths.isEmpty else {
                // An empty list is nothing to do (a scheduled job with no new photos), not a failure.
                let list = filesFrom == "-" ? "standard input" : filesFrom ?? ""
                return StandardError.write("no photos listed in \(list): nothing to analyse\n")
            }
            throw CommandFailure("no photos to analyse in \(paths.joined(separator: ", ")): expected .jpg, .jpeg or .png files")
        }
        let inShard = expanded.indices.filter { shard?.contains(expanded[$0]) ?? true }
        let workers = max(1, min(inShard.count, 2))
        let recognizers = try detection.makeRecognizers(count: workers, precision: arithmetic.precision)
        let model = try detection.modelPath()
        // Read before anything is written: a results file of another analysis is refused untouched.
        let previous = try output.map {
            try ResultLog.Contents(path: $0, resume: resume,
                                   provenance: .init(recognizers[0], model: model, command: .analyze))
        }
        // Each photo's copy is named from the whole list, so shards and resumed runs name it as one run would, and
        // no photo takes the name of a copy the resumed file's lines name.
        let annotations = target.map { $0.outputPaths(for: expanded, reserved: previous?.annotations ?? [:]) }
        if let annotations { try Self.checkCopiesKeepInputs(annotations, inputs: expanded) }
        try target?.createFolder()
        let log = try previous.map(ResultLog.init(continuing:))
        let chosen = inShard.filter { !(previous?.isFinished(expanded[$0]) ?? false) }
        let files = chosen.map { expanded[$0] }
        let outputs = annotations.map { all in chosen.map { all[$0] } }
        try OutputPaths.removeAbandonedTemporaryFiles(of: outputs ?? [])
        let progress = Locked(files.count > 1 ? ProgressBar(total: files.count, label: "analyze", unit: "photo") : nil)
        // Without --output the results are printed at the end, in input order; with it each line is appended as
        // soon as its photo is done and nothing is kept.
        let results = Locked([PhotoResult?](repeating: nil, count: log == nil ? files.count : 0))
        let failures = Locked(0)
        let done = Locked(0)
        let shared = UnsafeSendable(recognizers)
        let writeError = Locked<Error?>(nil)
        let downloader = PhotoDownloader()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: files.count, by: workers) {
                if writeError.withValue({ $0 != nil }) { return }
                var result = PhotoResult.analyze(path: files[index], with: shared.value[worker], downloader: downloader,
                                                 annotation: outputs?[index], limits: limits)
                result.model = model
                if result.error != nil { failures.withValue { $0 += 1 } }
                if let log {
                    do { try log.append(result) } catch { writeError.withValue { $0 = $0 ?? error } }
                } else {
                    results.withValue { $0[index] = result }
                }
                let count = done.withValue { value -> Int in value += 1; return value }
                progress.withValue { $0?.update(completed: count) }
            }
        }
        progress.withValue { $0?.finish() }
        if let error = writeError.withValue({ $0 }) { throw error }
        try log?.finish()
        if log == nil {
            let all = results.withValue { $0.compactMap { $0 } }
            if json {
                print(String(decoding: try JSONEncoder.sortedKeys(pretty: true).encode(all), as: UTF8.self))
            } else {
                for result in all where result.isAnalysed { print(result.table) }
            }
        }
        let failed = failures.withValue { $0 }
        if let output {
            // A failure is an unreadable photo, or an annotated copy that could not be written (reported above).
            let failures = failed > 0 ? ", \(failed) failed" : ""
            let count = files.count - failed
            StandardError.write("\(count.counting("photo")) done\(failures), appended to \(output)\n")
        }
        if failed > 0 { throw ExitCode.failure }
    }
}

extension Analyze {
    /// Throws when one of the annotated `copies` would replace one of the photos `inputs` (an --annotate folder
    /// holding photos of the run under their copies' names).
    static func checkCopiesKeepInputs(_ copies: [String], inputs: [String]) throws {
        let photos = Dictionary(inputs.map { (OutputPaths.canonical($0), $0) }, uniquingKeysWith: { first, _ in first })
        for copy in copies {
            if let photo = photos[OutputPaths.canonical(copy)] {
                throw CommandFailure("--annotate: the annotated copy \(copy) would replace the photo \(photo), one of the inputs; choose another output folder")
            }
        }
    }

    /// The worker mode (`--files-from - --output -`): the model is loaded once, then each path read from standard input
    /// is analysed and answered at once with its JSON line on standard output, until standard input ends. Drivers such
    /// as `scripts/ray_analyze.py` keep one such process per worker.
    func runWorker() throws {
        let recognizer = try detection.makeRecognizers(count: 1, precision: arithmetic.precision)[0]
        let model = try detection.modelPath()
        let encoder = JSONEncoder.sortedKeys()
        let downloader = PhotoDownloader()
        while let request = readLine() {
            let line = PhotoFiles.listedPath(request)  // a `-` here is a file of that name
            // Every line is answered, a blank one too: a driver waits for one answer per line it sends.
            var result = line.trimmingCharacters(in: .whitespaces).isEmpty
                ? PhotoResult(path: line, recognizer: recognizer, error: "expected a photo path, received an empty line")
                : PhotoResult.analyze(path: line, with: recognizer, downloader: downloader, limits: limits)
            result.model = model
            let answer = String(decoding: try encoder.encode(result) + [10], as: UTF8.self)
            do {
                try JSONLines.writeToStandardOutput(answer)
            } catch VideoCommandError.standardOutputClosed {
                return  // the driver went away: nobody is left to answer
            }
        }
    }
}
