import Foundation

/// Messages for the person at the terminal: warnings, notes and summaries on standard error.
public enum StandardError {
    /// Writes `text` to standard error, its control characters escaped (a file name in a message cannot drive the
    /// terminal). A failed write (standard error closed, a pipe whose reader is gone) is dropped:
    /// `FileHandle.write(_:)` would trap, and a message nobody can read must not stop the work it describes.
    public static func write(_ text: String) {
        do {
            try FileHandle.standardError.write(contentsOf: Data(text.escapingControlCharacters().utf8))
        } catch {
            // Nobody can be told: see above.
        }
    }
}
