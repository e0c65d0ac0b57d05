import EmovereFiles
import Foundation

/// Streams a JSON document to standard output piece by piece, so memory does not grow with the video.
final class JSONLines {
    private static let encoder = JSONEncoder.sortedKeys()

    static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Writes `text`; a reader that went away (`| head`, with SIGPIPE ignored) is
    /// `VideoCommandError.standardOutputClosed`.
    func write(_ text: String) throws(VideoCommandError) {
        try Self.writeToStandardOutput(text)
    }

    /// Writes `text` to standard output, throwing `VideoCommandError.standardOutputClosed` when its reader went away
    /// (EPIPE) and `.standardOutputFailed` otherwise (a full disk), with the system's reason (Foundation's own error
    /// names none).
    static func writeToStandardOutput(_ text: String) throws(VideoCommandError) {
        do {
            try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
        } catch {
            let code = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code
            let reason = PendingFile.reason(error)
            throw code == Int(EPIPE) ? .standardOutputClosed(reason: reason) : .standardOutputFailed(reason: reason)
        }
    }
}
