#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Ignores SIGPIPE for the whole process, once, so that writing to a child process that has exited (an encoder that
/// died, a comparison script that stopped early) returns `EPIPE` instead of killing the program.
public enum BrokenPipeSignal {
    private static let ignored: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    public static func ignore() { _ = ignored }
}
