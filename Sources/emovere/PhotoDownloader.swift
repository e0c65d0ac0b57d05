import EmovereCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Downloads photos named by `http` or `https` URLs into memory (nothing is saved) with the `curl` tool, from any
/// thread. curl (not Foundation's URLSession, whose Linux version spins a core while it waits, buffers an endless
/// answer without bound, hangs on a 401 challenge and cannot reach IPv6 hosts) reads the URL from its standard input,
/// so a password is never on a command line, and its output is read here a piece at a time up to `maximumBytes`.
struct PhotoDownloader: Sendable {
    /// The URL schemes a photo may be downloaded with (and redirected to).
    static let schemes = ["http", "https"]

    /// The most bytes one photo may have (a 100-megapixel photo, the default `--max-pixels`, in JPEG or a
    /// photographic PNG).
    static let maximumBytes = 256 << 20

    /// Why a photo could not be downloaded: its URL (password hidden) and the reason.
    struct Failure: Error, CustomStringConvertible {
        var url: String
        var reason: String
        var description: String { "cannot download \(url): \(reason)" }
    }

    /// Whether `input` is a URL a photo is downloaded from rather than a path.
    static func isURL(_ input: String) -> Bool { schemes.contains(RemoteAddress.scheme(of: input) ?? "") }

    /// A download fails when the server sends nothing for this long, or takes ten times as long in all.
    var timeoutSeconds = 30

    /// The bytes of the photo at `url`. A password in the URL is sent as HTTP basic authentication, and after a
    /// redirect only to the same scheme, host and port (curl's rule); redirects stay on `http` and `https`. Fails when
    /// the server answers with a status of 400 or more, or with text (a web page: the photo's page rather than the
    /// photo), announces or sends more than `maximumBytes`, sends nothing for `timeoutSeconds`, or takes more than ten
    /// times that in all.
    func bytes(from url: String) throws(Failure) -> [UInt8] {
        let shown = RemoteAddress.hidingPassword(in: url)
        func failure(_ reason: String) -> Failure { Failure(url: shown, reason: RemoteAddress.hidingPassword(of: url, in: reason)) }
        guard let curl = Self.locateCurl() else {
            throw failure("photos from URLs need the curl tool, which is not on PATH (apt install curl)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curl)
        // -q first: no ~/.curlrc. The URL alone comes through standard input (--config -).
        process.arguments = ["-q", "--silent", "--show-error", "--fail", "--globoff", "--location", "--max-redirs", "10",
                             "--proto", "=http,https", "--proto-redir", "=http,https", "--compressed",
                             "--connect-timeout", "\(timeoutSeconds)", "--speed-limit", "1", "--speed-time", "\(timeoutSeconds)",
                             "--max-time", "\(timeoutSeconds * 10)", "--max-filesize", "\(Self.maximumBytes)",
                             "--user-agent", "emovere", "--write-out", "%{stderr}\n\(Self.answerMarker) %{http_code} %{content_type}\n",
                             "--config", "-"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw failure("cannot start \(curl): \(error.localizedDescription)")
        }
        let escaped = url.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
            .replacing("\n", with: "\\n").replacing("\r", with: "\\r")
        do {
            try input.fileHandleForWriting.write(contentsOf: Data("url = \"\(escaped)\"\n".utf8))
            try input.fileHandleForWriting.close()
        } catch {
            process.waitUntilExit()
            throw failure("cannot pass the URL to curl: \(error.localizedDescription)")
        }
        var bytes: [UInt8] = []
        var tooLarge = false
        while true {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // the end: curl exited or closed its output
            guard bytes.count + chunk.count <= Self.maximumBytes else {
                tooLarge = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            bytes += chunk
        }
        process.waitUntilExit()
        // curl writes a line or two here (its error and the answer line): the pipe never fills before it exits.
        let messages = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        if tooLarge { throw failure("the server sent more than the \(Self.maximumBytes) bytes a photo may have") }
        let answer = messages.split(separator: "\n").last { $0.hasPrefix(Self.answerMarker + " ") }?
            .split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).dropFirst()
        let status = answer?.first.flatMap { Int($0) } ?? 0
        let type = answer?.dropFirst().first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw failure(Self.reason(status: process.terminationStatus, answer: status, messages: messages))
        }
        if type.hasPrefix("text/") {
            throw failure("the server sent \(type) (a web page or a message), expected a JPEG or PNG photo")
        }
        return bytes
    }

    /// Starts the line `--write-out` adds to curl's standard error: the last answer's status and content type.
    private static let answerMarker = "emovere-answer"

    /// Why curl exited with `status`: the HTTP status of a refused answer, or curl's own message.
    private static func reason(status: Int32, answer: Int, messages: String) -> String {
        let message = messages.split(separator: "\n").last { $0.hasPrefix("curl: ") }
            .map { line in String(line.drop { $0 != " " }.dropFirst().drop { $0 != " " }.dropFirst()) }  // "curl: (N) "
        return switch status {
        case 22: "the server answered HTTP \(answer)"
        case 63: "the server announces more than the \(maximumBytes) bytes a photo may have"
        case 6: "no such host (\(message ?? "curl exit status 6"))"
        case 7: "could not connect (\(message ?? "curl exit status 7"))"
        case 28: "timed out (\(message ?? "curl exit status 28"))"
        default: message ?? "curl exited with status \(status)"
        }
    }

    /// The `curl` executable on `PATH`, nil when there is none.
    private static func locateCurl() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/curl" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
