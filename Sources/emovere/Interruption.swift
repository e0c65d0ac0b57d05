import Dispatch
import EmovereCore
import Foundation

/// Ctrl-C (SIGINT) and SIGTERM as a flag the frame loop checks, so outputs can be finished or removed cleanly.
final class Interruption: Sendable {
    private let flag: Locked<Bool>
    /// Kept so the handlers stay installed for the process's life; never touched after `init`.
    private let sources: UnsafeSendable<[any DispatchSourceSignal]>

    var isRequested: Bool { flag.withValue { $0 } }

    private init() {
        let flag = Locked(false)
        self.flag = flag
        sources = UnsafeSendable([SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let again = flag.withValue { value -> Bool in
                    defer { value = true }
                    return value
                }
                // A second Ctrl-C stops at once.
                if again { exit(130) }
            }
            source.resume()
            return source
        })
    }

    static func install() -> Interruption { Interruption() }
}
