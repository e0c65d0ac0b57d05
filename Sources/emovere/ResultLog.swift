import ArgumentParser
import Emovere
import EmovereCore
import EmovereFiles
import EmovereTensor
import EmovereVideo
import EmovereVision
import Foundation
import Synchronization

/// An append-only JSON Lines file of photo or video results: each line is written whole with one `write`, so a run
/// that stops leaves at most one partial last line, which `resume` cuts off before appending (once every complete
/// line has been read as a result: a file of something else is refused untouched).
final class ResultLog: Sendable {
    /// One complete line of the file: the input it answers, and what produced it (lines of `analyze`, and of
    /// `video` since 2026-12-06).
    struct Entry: Decodable {
        var path: String
        var error: String?
        /// A photo's faces: every line of `analyze` has them, no line of `video`.
        var faces: Present?
        /// A video's summary: a video that broke off has one beside its error (what was analysed).
        var summary: Present?
        var model: String?
        var detector: DetectorDescription?
        /// Absent in lines written before they were recorded (2026-12-06).
        var tta: TestTimeAugmentation?
        var precision: Precision?
        /// A photo's annotated copy.
        var annotation: String?
    }

    /// A JSON value whose content does not matter here, only that it is there.
    struct Present: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    /// What produced the lines of `analyze` or `video`: a resume with another model file, detector (or detector
    /// setting), test-time augmentation or precision is refused.
    struct Provenance: Encodable {
        /// The command whose lines these are.
        enum Command: String { case analyze, video }

        let command: Command
        let model: String
        let detector: DetectorDescription
        let tta: TestTimeAugmentation?
        let precision: Precision?
        /// `model` resolved (`OutputPaths.canonical`), once.
        let canonicalModel: String

        /// The provenance of the lines `recognizer` (loaded from `model`) produces: the detector, test-time
        /// augmentation and precision its photo results record.
        init(_ recognizer: EmotionRecognizer, model: String, command: Command) {
            let result = PhotoResult(path: "", recognizer: recognizer)
            self.command = command
            self.model = model
            detector = result.detector
            tta = result.tta
            precision = result.precision
            canonicalModel = OutputPaths.canonical(model)
        }

        /// A line's fields: the four a resume compares (the resolved model is not written).
        private enum CodingKeys: String, CodingKey { case model, detector, tta, precision }
    }

    /// What an existing results file holds, read and checked without changing it.
    struct Contents {
        let path: String
        /// The inputs done, by `OutputPaths.normalized` path: whose line the file already held without an error,
        /// or with what was analysed of a video that broke off (a photo or video that failed is tried again on
        /// resume, and its new line follows the old).
        let finished: Set<String>
        /// The annotated copies the file's lines name, by their photo (normalized): a resumed run gives no other
        /// photo their names.
        let annotations: [String: String]
        /// The folder relative paths are normalized from (the current one).
        private let directory = FileManager.default.currentDirectoryPath
        /// Where the partial last line of a run that stopped starts, to be cut off; nil without one.
        let partialLineStart: Int?
        /// The file's lock, held from before it was read (nil when there was no file yet).
        let lock: FileLock?

        /// The file at `path` when it exists, which only `resume` may continue: every complete line is read as a
        /// result (and, given `provenance`, as a line of its command written with the same model file, detector and
        /// settings), so a file of something else is refused untouched.
        init(path: String, resume: Bool, provenance: Provenance? = nil) throws {
            self.path = path
            guard FileManager.default.fileExists(atPath: path) else {
                (finished, annotations, partialLineStart, lock) = ([], [:], nil, nil)
                return
            }
            guard resume else {
                throw CommandFailure("\(path) already exists; pass --resume to continue it or choose another --output")
            }
            // Locked before it is read: another run appending meanwhile would have its lines cut off or done twice.
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw CommandFailure("--output: cannot open \(path): \(String(cString: strerror(errno)))")
            }
            lock = try FileLock(descriptor: descriptor, path: path, remedy: "choose another --output")
            let directory = self.directory
            var finished = Set<String>()
            var annotations: [String: String] = [:]
            partialLineStart = try Self.forEachLine(of: path, provenance: provenance) { entry in
                // A video that broke off keeps its line (its summary), unless read from a URL: a failed download is
                // tried again.
                if entry.error == nil || entry.summary != nil && RemoteAddress.scheme(of: entry.path) == nil {
                    finished.insert(OutputPaths.normalized(entry.path, in: directory))
                }
                if let annotation = entry.annotation {
                    annotations[OutputPaths.normalized(entry.path, in: directory)] = annotation  // the last one counts
                }
            }
            self.finished = finished
            self.annotations = annotations
        }

        /// Whether the file held a finished line for `input` (however its path is spelt).
        func isFinished(_ input: String) -> Bool {
            !finished.isEmpty && finished.contains(OutputPaths.normalized(input, in: directory))
        }

        /// The longest line a results file may hold (a photo of thousands of faces takes a few megabytes).
        static let maximumLineBytes = 64 << 20

        /// Reads the results file `path` a megabyte at a time (memory does not grow with the file), checks each
        /// complete line and hands it to `take`, and returns where a partial last line (the start of a line this
        /// command writes) starts, or nil.
        private static func forEachLine(of path: String, provenance: Provenance?,
                                        _ take: (Entry) -> Void) throws -> Int? {
            do {
                try FileContents.checkRegularFile(atPath: path)
            } catch {
                throw CommandFailure("--output: \(error); expected the results file of an earlier run to resume")
            }
            guard let file = FileHandle(forReadingAtPath: path) else {
                throw CommandFailure("--output: cannot read \(path): \(String(cString: strerror(errno)))")
            }
            defer { try? file.close() }  // read only: nothing to lose
            let expected = provenance == nil ? "a line of emovere analyze or video --output"
                : "a line of emovere \(provenance!.command.rawValue) --output (with \"path\", \"model\" and \"detector\")"
            func refusal(_ line: Int, _ found: String) -> CommandFailure {
                CommandFailure("\(path):\(line): expected \(expected), found \(found); the file was left as it was")
            }
            var unrecorded = 0
            var number = 0  // complete lines read
            func check(_ line: ArraySlice<UInt8>) throws {
                number += 1
                guard !line.isEmpty else { return }
                let entry: Entry
                do {
                    entry = try JSONDecoder().decode(Entry.self, from: Data(line))
                } catch {
                    throw refusal(number, ResultLog.describe(error, text: Data(line)))
                }
                if let provenance {
                    if entry.model == nil && entry.detector == nil && entry.faces == nil && provenance.command == .video {
                        unrecorded += 1  // a video line written before they were recorded (2026-12-06)
                    } else {
                        guard entry.model != nil, entry.detector != nil else {
                            throw refusal(number, "a line without \(entry.model == nil ? "\"model\"" : "\"detector\"")")
                        }
                        // A photo's line in a video's results, or the reverse: the same model and settings would pass.
                        guard (entry.faces != nil) == (provenance.command == .analyze) else {
                            throw refusal(number, entry.faces != nil ? "a photo's line of analyze (with \"faces\")"
                                                                    : "a line without \"faces\" (a line of video?)")
                        }
                        try ResultLog.check(entry, line: number, of: path, against: provenance)
                    }
                }
                take(entry)
            }
            var pending: [UInt8] = []  // what follows the last line break read so far
            var complete = 0  // the file offset where `pending` starts
            while true {
                let chunk: Data
                do {
                    guard let read = try file.read(upToCount: 1 << 20), !read.isEmpty else { break }
                    chunk = read
                } catch {
                    throw CommandFailure("--output: cannot read \(path): \(error.localizedDescription)")
                }
                pending += chunk
                guard let lastBreak = pending.lastIndex(of: 10) else {
                    guard pending.count <= maximumLineBytes else {
                        throw refusal(number + 1, "a line of more than \(maximumLineBytes) bytes")
                    }
                    continue
                }
                for line in pending[..<lastBreak].split(separator: 10, omittingEmptySubsequences: false) {
                    try check(line)
                }
                complete += lastBreak + 1
                pending.removeFirst(lastBreak + 1)
            }
            if unrecorded > 0 {
                StandardError.write("warning: \(unrecorded) \(unrecorded == 1 ? "line" : "lines") of \(path) \(unrecorded == 1 ? "records" : "record") no model or detector (written by an earlier version): whether \(unrecorded == 1 ? "it" : "they") used this run's is not checked\n")
            }
            guard !pending.isEmpty else { return nil }
            // Only the start of a line this command writes is cut off, never the end of some other file: each line
            // is written with its line break in one write, so a whole JSON value without one came from elsewhere.
            let startsLikeALine = pending[0] == UInt8(ascii: "{")
            guard startsLikeALine, !isWholeJSON(pending[...]) else {
                throw refusal(number + 1, startsLikeALine
                    ? "a whole JSON object without its line break (not the partial line of a run that stopped)"
                    : "text that is not JSON")
            }
            return complete
        }

        /// Whether `bytes` parse as one JSON value.
        private static func isWholeJSON(_ bytes: ArraySlice<UInt8>) -> Bool {
            do {
                _ = try JSONSerialization.jsonObject(with: Data(bytes))
                return true
            } catch {
                return false  // what is asked: a parse error is the answer, not a failure
            }
        }
    }

    /// The inputs the file held when it was opened.
    let contents: Contents
    private let handle: FileHandle
    /// The file's lock: taken by `contents` before reading it, else on the descriptor appended through.
    private let lock: FileLock
    private var path: String { contents.path }
    /// One append at a time; holds why an append failed, after which none is tried (the lines stay whole).
    private let appending = Mutex<String?>(nil)

    /// Opens `path` for appending (`Contents` checks an existing file first; only then is a partial last line cut off).
    convenience init(path: String, resume: Bool, provenance: Provenance? = nil) throws {
        try self.init(continuing: Contents(path: path, resume: resume, provenance: provenance))
    }

    /// Opens the file `contents` was read from for appending, cutting off its partial last line and creating
    /// missing folders above it.
    init(continuing contents: Contents) throws {
        self.contents = contents
        let path = contents.path
        if let start = contents.partialLineStart {
            guard truncate(path, off_t(start)) == 0 else {
                throw CommandFailure("\(path): cannot cut off the unfinished last line: \(String(cString: strerror(errno)))")
            }
            StandardError.write("note: \(path): cut off its unfinished last line (a run stopped while writing it); its input, if in this run, is analysed again\n")
        }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw CommandFailure("cannot create the folder \(folder) for \(path): \(error.localizedDescription)")
            }
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CommandFailure("cannot open \(path) for appending: \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        if let held = contents.lock {
            lock = held
        } else {
            // A new file: its name synced with its folder (its lines are, each), and locked through a second
            // descriptor of its own (a lock belongs to one open file description), which a run started at the same
            // moment finds held.
            do {
                try AtomicFile.synchronizeFolder(of: path)
            } catch {
                throw CommandFailure("\(error)")
            }
            let lockDescriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard lockDescriptor >= 0 else {
                throw CommandFailure("--output: cannot open \(path): \(String(cString: strerror(errno)))")
            }
            lock = try FileLock(descriptor: lockDescriptor, path: path, remedy: "choose another --output")
        }
    }

    /// Whether the file already held a finished line for `input` (however its path is spelt).
    func isFinished(_ input: String) -> Bool {
        contents.isFinished(input)
    }

    /// What a line's decoding error found, in a few words.
    fileprivate static func describe(_ error: any Error, text: Data) -> String {
        DecodingProblem.describe(error, unfitValue: "a value this version does not know", text: text)
    }

    /// Throws when `entry` (line `line` of `path`) was written with another model file, detector, detector setting,
    /// test-time augmentation or precision than `provenance`: one file of results would mix two analyses.
    fileprivate static func check(_ entry: Entry, line: Int, of path: String, against provenance: Provenance) throws {
        // Resolving a path costs system calls: only a line naming the model otherwise is resolved (once per line).
        if let recorded = entry.model, recorded != provenance.model,
           OutputPaths.canonical(recorded) != provenance.canonicalModel {
            throw CommandFailure("\(path):\(line): written with the model \(recorded), this run uses \(provenance.model); resume with the same --model or choose another --output (the file was left as it was)")
        }
        if let recorded = entry.detector, !isSameDetector(recorded, provenance.detector) {
            throw CommandFailure("\(path):\(line): written with the detector \(recorded), this run uses \(provenance.detector); resume with the same detector options or choose another --output (the file was left as it was)")
        }
        if let recorded = entry.tta, recorded != provenance.tta {
            throw CommandFailure("\(path):\(line): written with --tta \(recorded.rawValue), this run uses \(provenance.tta?.rawValue ?? "none"); resume with the same --tta or choose another --output (the file was left as it was)")
        }
        if let recorded = entry.precision, recorded != provenance.precision {
            throw CommandFailure("\(path):\(line): written in \(recorded) arithmetic, this run computes in \(provenance.precision.map { "\($0)" } ?? "another") (--precision, or the float32 a CPU without bfloat16 falls back to); resume with the same --precision on a CPU like the first run's, or choose another --output (the file was left as it was)")
        }
    }

    /// Whether the detector `recorded` in a line is `current`. Lines written before the detector's settings were
    /// recorded (2026-12-06) carry only its kind, file and score threshold, and are compared on those.
    private static func isSameDetector(_ recorded: DetectorDescription, _ current: DetectorDescription) -> Bool {
        guard recorded.detectionSize == nil && recorded.scaleFactor == nil else { return recorded == current }
        return recorded.kind == current.kind && recorded.file == current.file
            && recorded.scoreThreshold == current.scoreThreshold
    }

    /// Appends `result` (a photo's or a video's record, with its `path`) as one line.
    /// A write that fails part-way (a full disk) is cut back off, or failing that left as the partial last line a
    /// resume cuts off: no line is appended after it, by this run's other workers either.
    func append(_ result: some Encodable) throws {
        let line = Array(try JSONEncoder.sortedKeys().encode(result)) + [10]
        try appending.withLock { failure in
            if let failure { throw CommandFailure("cannot append to \(path): an earlier append failed (\(failure))") }
            let descriptor = handle.fileDescriptor
            let start = lseek(descriptor, 0, SEEK_END)
            do throws(AtomicFile.WriteError) {
                try AtomicFile.writeAll(line, to: descriptor, path: path)
            } catch {
                failure = error.reason
                if start >= 0 { _ = ftruncate(descriptor, start) }  // failing, the partial line stays last: see above
                throw CommandFailure("cannot append to \(path): \(error.reason)")
            }
        }
    }

    /// Flushes the lines appended to the disk (`fsync`): a run that reports them done has them kept.
    func finish() throws {
        try appending.withLock { failure in
            if let failure { throw CommandFailure("cannot save \(path): an append failed (\(failure))") }
            do {
                try handle.synchronize()
            } catch {
                throw CommandFailure("cannot save \(path) to disk: \(error)")
            }
        }
    }
}
