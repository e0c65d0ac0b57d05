import Synchronization

/// Lets another thread stop the ffprobe or ffmpeg process that a call is waiting on, such as the probe of a stream
/// that does not answer when the user presses Ctrl-C (the tools ignore the terminal's signal when the caller does, as
/// a process that handles Ctrl-C itself must): ``cancel()`` kills the process running under it now, and any started
/// under it later at once. The call then fails.
public final class VideoCancellation: Sendable {
    private struct State {
        var isCancelled = false
        var nextToken = 0
        var running: [Int: WeakSubprocess] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Whether ``cancel()`` was called.
    public var isCancelled: Bool { state.withLock { $0.isCancelled } }

    /// Kills the processes running under this cancellation (from any thread).
    public func cancel() {
        let running = state.withLock { state in
            state.isCancelled = true
            return Array(state.running.values)
        }
        for process in running { process.interrupt() }
    }

    /// Kills `subprocess` at ``cancel()`` (at once when it has come) until the returned token is released.
    func register(_ subprocess: Subprocess) -> Int {
        let (token, cancelled) = state.withLock { state in
            state.nextToken += 1
            state.running[state.nextToken] = WeakSubprocess(subprocess)
            return (state.nextToken, state.isCancelled)
        }
        if cancelled { subprocess.interrupt() }
        return token
    }

    /// Forgets the registration `token`.
    func release(_ token: Int) {
        _ = state.withLock { $0.running.removeValue(forKey: token) }
    }
}

/// A subprocess held weakly, to interrupt from any thread while it lives.
private final class WeakSubprocess: @unchecked Sendable {
    private weak var subprocess: Subprocess?

    init(_ subprocess: Subprocess) { self.subprocess = subprocess }

    func interrupt() { subprocess?.interrupt() }
}
