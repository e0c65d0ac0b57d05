/// A failure found while a command runs (not a bad option, which `validate()` reports with the usage): printed as
/// `Error: ...` and ending the command with exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
