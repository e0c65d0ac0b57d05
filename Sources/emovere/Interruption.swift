import Dispatch
import EmovereCore
import Foundation

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal) as a flag the frame loop checks, so outputs can be
/// finished or removed cleanly; the first signal also runs the actions registered with `whenRequested` (stopping an
/// input that stalled, so the loop sees the flag at all). A second signal exits at once (status 130), first killing
/// the processes and deleting the temporary files registered with `removeOnForcedExit`, so no half-written output is
/// left behind.
final class Interruption: Sendable {
    /// What a forced exit cleans up, by registration.
    private struct State {
        var isRequested = false
        var nextToken = 0
        var cleanups: [Int: (files: [String], processes: [Int32])] = [:]
        var actions: [Int: @Sendable () -> Void] = [:]
    }

    private let state: Locked<State>
    /// Kept so the handlers stay installed for the process's life; never touched after `init`.
    private let sources: UnsafeSendable<[any DispatchSourceSignal]>

    var isRequested: Bool { state.withValue { $0.isRequested } }

    private init() {
        let state = Locked(State())
        self.state = state
        sources = UnsafeSendable([SIGINT, SIGTERM, SIGHUP].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let (forced, actions) = state.withValue { value in
                    defer { value.isRequested = true }
                    return value.isRequested ? (Array(value.cleanups.values), []) : (nil, Array(value.actions.values))
                }
                guard let forced else { return actions.forEach { $0() } }
                for cleanup in forced {
                    for process in cleanup.processes { kill(process, SIGKILL) }
                    for file in cleanup.files { unlink(file) }
                }
                exit(130)
            }
            source.resume()
            return source
        })
    }

    static func install() -> Interruption { Interruption() }

    /// Registers `files` to delete and `processes` to kill should a second signal force the exit (an output's
    /// temporary file and its encoder); returns the token that `release(_:)` takes once they are finished or removed.
    func removeOnForcedExit(files: [String], processes: [Int32] = []) -> Int {
        state.withValue { value in
            value.nextToken += 1
            value.cleanups[value.nextToken] = (files, processes)
            return value.nextToken
        }
    }

    /// Registers `action` to run at the first signal (at once when one has come), e.g. closing a frame mailbox and
    /// killing a decoder whose input stalled; returns the token that `release(_:)` takes.
    func whenRequested(_ action: @escaping @Sendable () -> Void) -> Int {
        let (token, requested) = state.withValue { value in
            value.nextToken += 1
            value.actions[value.nextToken] = action
            return (value.nextToken, value.isRequested)
        }
        if requested { action() }
        return token
    }

    /// Forgets the registration `token`.
    func release(_ token: Int) {
        state.withValue { value in
            value.cleanups.removeValue(forKey: token)
            value.actions.removeValue(forKey: token)
        }
    }
}
