import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the `ffmpeg` and `ffprobe` executables are.
///
/// Looked up in `$EMOVERE_FFMPEG_DIRECTORY` when set, otherwise on `PATH`.
public struct FFmpegTools: Sendable, Equatable {
    /// The `ffmpeg` executable.
    public let ffmpeg: String
    /// The `ffprobe` executable.
    public let ffprobe: String

    /// Tools at explicit paths (not checked).
    public init(ffmpeg: String, ffprobe: String) {
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
    }

    /// The tools found in `$EMOVERE_FFMPEG_DIRECTORY` or on `PATH`.
    /// - Throws: ``VideoError/toolNotFound(name:searched:)`` naming the folders searched and how to install FFmpeg.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(VideoError) -> FFmpegTools {
        let folders: [String]
        if let directory = environment["EMOVERE_FFMPEG_DIRECTORY"], !directory.isEmpty {
            folders = [directory]
        } else {
            folders = (environment["PATH"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        func find(_ name: String) throws(VideoError) -> String {
            for folder in folders {
                let candidate = (folder as NSString).appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
            throw .toolNotFound(name: name, searched: folders)
        }
        return FFmpegTools(ffmpeg: try find("ffmpeg"), ffprobe: try find("ffprobe"))
    }

    /// `tools` when given, otherwise the located tools.
    static func resolve(_ tools: FFmpegTools?) throws(VideoError) -> FFmpegTools {
        if let tools { return tools }
        return try locate()
    }

    /// Whether both tools can be found (for tests and diagnostics).
    public static var isAvailable: Bool {
        (try? locate()) != nil
    }
}

/// The last bytes a subprocess wrote to a pipe, collected on a background thread so the pipe never fills up.
final class StreamTail: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    private let limit: Int
    private let finished = DispatchSemaphore(value: 0)

    /// Starts draining `handle` until end of file, keeping at most `limit` bytes.
    init(draining handle: FileHandle, limit: Int = 8192) {
        self.limit = limit
        let descriptor = handle.fileDescriptor
        let thread = Thread { [self] in
            // The handle is captured so its descriptor stays open while the thread reads it.
            withExtendedLifetime(handle) {
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                    if count > 0 {
                        append(buffer[0..<count])
                    } else if count < 0 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
            }
            finished.signal()
        }
        thread.name = "emovere.ffmpeg-stderr"
        thread.start()
    }

    private func append(_ chunk: ArraySlice<UInt8>) {
        bytes.withLock { bytes in
            bytes.append(contentsOf: chunk)
            if bytes.count > limit { bytes.removeFirst(bytes.count - limit) }
        }
    }

    /// Waits until the writer closed the pipe (the process exited), then returns the last lines, at most `lines`.
    func text(lines: Int = 12) -> String {
        finished.wait()
        finished.signal()
        return snapshot(lines: lines)
    }

    /// The last lines collected so far, without waiting.
    func snapshot(lines: Int = 12) -> String {
        let copy = bytes.withLock { $0 }
        let all = String(decoding: copy, as: UTF8.self).split(whereSeparator: \.isNewline)
        return all.suffix(lines).joined(separator: "\n")
    }
}

/// A started subprocess whose standard error is collected by a ``StreamTail``.
final class Subprocess {
    let process = Process()
    let tool: String
    let errorTail: StreamTail

    /// Starts `executable arguments...`; stdin and stdout are the given pipes, or /dev/null.
    init(executable: String, arguments: [String], input: Pipe? = nil, output: Pipe? = nil) throws(VideoError) {
        tool = (executable as NSString).lastPathComponent
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input ?? FileHandle.nullDevice
        process.standardOutput = output ?? FileHandle.nullDevice
        let errorPipe = Pipe()
        process.standardError = errorPipe
        do {
            try process.run()
        } catch {
            throw .launchFailed(tool: executable, reason: "\(error)")
        }
        errorTail = StreamTail(draining: errorPipe.fileHandleForReading)
    }

    /// Waits for the process to exit; its exit status, or 128 + the signal number for a killed process.
    func wait() -> Int32 {
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// Kills the process if it still runs, without waiting (from any thread: a signal handler's action); returns
    /// whether it did.
    @discardableResult
    func interrupt() -> Bool {
        guard process.isRunning else { return false }
        return kill(process.processIdentifier, SIGKILL) == 0
    }

    /// Stops the process at once and waits for it. Only for work whose output is no longer wanted (a reader closed
    /// early, an abandoned encoding): SIGKILL, because ffmpeg answers SIGTERM by flushing what it holds, which took
    /// seconds and blocked on a pipe nobody reads.
    func stop() {
        guard process.isRunning else { return }
        interrupt()
        process.waitUntilExit()
    }

    /// Runs `executable arguments...` to completion and returns its exit status, standard output and the tail
    /// of its standard error; with `timeoutSeconds`, a process still running then is killed and `timedOut` is true;
    /// `cancellation` kills it too.
    static func run(executable: String, arguments: [String], timeoutSeconds: Double? = nil,
                    cancellation: VideoCancellation? = nil) throws(VideoError)
        -> (status: Int32, output: Data, errors: String, timedOut: Bool) {
        let outputPipe = Pipe()
        let subprocess = try Subprocess(executable: executable, arguments: arguments, output: outputPipe)
        let registration = cancellation?.register(subprocess)
        defer { registration.map { cancellation?.release($0) } }
        let watchdog = timeoutSeconds.map { subprocess.killAfter(seconds: $0) }
        let output = outputPipe.fileHandleForReading.readDataToEndOfFile()
        let status = subprocess.wait()
        watchdog?.cancel()
        return (status, output, subprocess.errorTail.text(), watchdog?.fired ?? false)
    }

    /// Kills the process unless the returned watchdog is cancelled within `seconds`. The timer holds the watchdog and
    /// the process weakly: a cancelled timer lingers in the queue until its deadline.
    func killAfter(seconds: Double) -> Watchdog {
        let watchdog = Watchdog()
        let timer = DispatchWorkItem { [weak self, weak watchdog] in
            guard let self, let watchdog else { return }
            watchdog.state.withLock { state in
                guard !state.cancelled else { return }
                state.fired = interrupt()
            }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: timer)
        return watchdog
    }

    /// A pending kill of a subprocess (``killAfter(seconds:)``).
    final class Watchdog: Sendable {
        fileprivate let state = Mutex((cancelled: false, fired: false))

        /// Stops the kill if it has not happened.
        func cancel() {
            state.withLock { $0.cancelled = true }
        }

        /// Whether the process was killed.
        var fired: Bool { state.withLock { $0.fired } }
    }
}

/// `read(2)`, named apart from the `read` methods of the types that call it.
func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

/// `write(2)`, named apart from the `write` methods of the types that call it.
func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
