/// Why `video` stopped early without a video error of its own.
enum VideoCommandError: Error, CustomStringConvertible {
    /// SIGINT or SIGTERM arrived (Ctrl-C).
    case interrupted
    /// Standard output was closed by its reader (`| head`): the JSON cannot be written.
    case standardOutputClosed(reason: String)
    /// Writing standard output failed otherwise (a full disk behind `> file`).
    case standardOutputFailed(reason: String)

    var description: String {
        switch self {
        case .interrupted: "interrupted"
        case let .standardOutputClosed(reason): "standard output was closed by its reader (\(reason))"
        case let .standardOutputFailed(reason): "cannot write standard output: \(reason)"
        }
    }
}
