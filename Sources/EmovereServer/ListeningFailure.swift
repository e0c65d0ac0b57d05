#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the server could not listen on its address: the system's refusal, said in the operator's terms.
public struct ListeningFailure: Error, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The system's error number from `bind` (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`).
    public var code: Int32

    public var description: String {
        let reason = switch code {
        case EADDRINUSE: "the port is in use (another program, or another emovere serve, listens on it): choose another port"
        case EACCES where port < 1024: "ports below 1024 need root here: choose a port of 1024 or more"
        case EADDRNOTAVAIL: "this machine has no such address: give one of its own (127.0.0.1, ::1, 0.0.0.0 or ::)"
        default: String(cString: strerror(code))
        }
        return "cannot listen on \(host.contains(":") ? "[\(host)]" : host):\(port): \(reason)"
    }
}
