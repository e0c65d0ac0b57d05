/// Why `video` stopped early without a video error of its own.
enum VideoCommandError: Error {
    /// SIGINT or SIGTERM arrived (Ctrl-C).
    case interrupted
}
