import Dispatch
import EmovereCore
import Foundation

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal) as a flag the frame loop checks, so outputs can be
/// finished or removed cleanly. A second signal exits at once (status 130), first killing the processes and deleting
/// the temporary files registered with `removeOnForcedExit`, so no half-written output is left behind.
final class Interruption: Sendable {
    /// What a forced exit cleans up, by registration.
    private struct State {
        var isRequested = false
        var nextToken = 0
        var cleanups: [Int: (files: [String], processes: [Int32])] = [:]
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
                let forced = state.withValue { value -> [(files: [String], processes: [Int32])]? in
                    defer { value.isRequested = true }
                    return value.isRequested ? Array(value.cleanups.values) : nil
                }
                guard let forced else { return }
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

    /// Forgets the registration `token`.
    func release(_ token: Int) {
        _ = state.withValue { $0.cleanups.removeValue(forKey: token) }
    }
}
