import Dispatch
import EmovereCore
import Foundation

/// Ctrl-C (SIGINT) and SIGTERM as a flag the frame loop checks, so outputs can be finished or removed cleanly.
final class Interruption: @unchecked Sendable {
    private let flag = Locked(false)
    private var sources: [DispatchSourceSignal] = []

    var isRequested: Bool { flag.withValue { $0 } }

    static func install() -> Interruption {
        let interruption = Interruption()
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [interruption] in
                let again = interruption.flag.withValue { value -> Bool in
                    defer { value = true }
                    return value
                }
                // A second Ctrl-C stops at once.
                if again { exit(130) }
            }
            source.resume()
            interruption.sources.append(source)
        }
        return interruption
    }
}
