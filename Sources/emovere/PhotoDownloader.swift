import EmovereCore
import EmovereVision
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

    /// The most bytes one photo may have.
    static let maximumBytes = ImageFile.maximumBytes

    /// Why a photo could not be downloaded: its URL (password hidden) and the reason.
    struct Failure: Error, CustomStringConvertible {
        var url: String
        var reason: String
        var description: String { "cannot download \(url): \(reason)" }
    }

    /// Whether `input` is a URL a photo is downloaded from rather than a path.
    static func isURL(_ input: String) -> Bool { schemes.contains(RemoteAddress.scheme(of: input) ?? "") }

    /// A download fails when the server sends under one byte a second for this long, or takes ten times as long in all.
    var timeoutSeconds = 30

    /// The bytes of the photo at `url`. A password in the URL is sent as HTTP basic authentication, and after a
    /// redirect only to the same scheme, host and port (curl's rule); redirects stay on `http` and `https`; curl's
    /// proxy variables (`https_proxy`, `no_proxy`, ...) apply. Fails when the URL holds a control character, when the
    /// server answers with a status of 400 or more, or with text (a web page: the photo's page rather than the photo),
    /// announces or sends more than `maximumBytes`, sends under one byte a second for `timeoutSeconds`, or takes more
    /// than ten times that in all.
    func bytes(from url: String) throws(Failure) -> [UInt8] {
        let shown = RemoteAddress.hidingPassword(in: url)
        func failure(_ reason: String) -> Failure { Failure(url: shown, reason: RemoteAddress.hidingPassword(of: url, in: reason)) }
        if let control = url.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw failure(String(format: "expected a URL without control characters, found U+%04X (percent-encode it)",
                                 control.value))
        }
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
        BrokenPipeSignal.ignore()  // a curl that exits before reading its input must not end this process
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw failure("cannot start \(curl): \(error.localizedDescription)")
        }
        // Escaped scalar by scalar (a quote with a combining mark is one Character, but still a quote to curl); the
        // URL holds no control character, so nothing can end its line.
        var escaped = String.UnicodeScalarView()
        for scalar in url.unicodeScalars {
            if scalar == "\\" || scalar == "\"" { escaped.append("\\") }
            escaped.append(scalar)
        }
        // A curl that exits at once (a missing library, an unknown option) reports why below; the write then fails.
        let passed = Result { () throws -> Void in
            try input.fileHandleForWriting.write(contentsOf: Data("url = \"\(String(escaped))\"\n".utf8))
            try input.fileHandleForWriting.close()
        }
        let read = Result { try output.fileHandleForReading.readToEnd(limit: Self.maximumBytes, name: "curl's output") }
        if (try? read.get()) == nil { kill(process.processIdentifier, SIGKILL) }  // too much, or unreadable
        process.waitUntilExit()
        // curl writes a line or two here (its error and the answer line): the pipe never fills before it exits.
        let messages = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let received: [UInt8]?
        do { received = try read.get() } catch { throw failure("\(error)") }
        guard let bytes = received else { throw failure("the server sent more than the \(Self.maximumBytes) bytes a photo may have") }
        let answer = messages.split(separator: "\n").last { $0.hasPrefix(Self.answerMarker + " ") }?
            .split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).dropFirst()
        let status = answer?.first.flatMap { Int($0) } ?? 0
        let type = answer?.dropFirst().first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard process.terminationReason == .exit else {
            throw failure("curl was killed by signal \(process.terminationStatus)")
        }
        guard process.terminationStatus == 0 else {
            throw failure(reason(status: process.terminationStatus, answer: status, messages: messages))
        }
        if case let .failure(error) = passed {
            throw failure("cannot pass the URL to curl: \(error.localizedDescription)")
        }
        if type.hasPrefix("text/") {
            throw failure("the server sent \(type) (a web page or a message), expected a JPEG or PNG photo")
        }
        return bytes
    }

    /// Starts the line `--write-out` adds to curl's standard error: the last answer's status and content type.
    private static let answerMarker = "emovere-answer"

    /// Why curl exited with `status`: the HTTP status of a refused answer, or what failed with curl's own message.
    private func reason(status: Int32, answer: Int, messages: String) -> String {
        // curl's message ("curl: (N) text"), or its last line when it failed before a transfer (a bad option).
        let lines = messages.split(separator: "\n").filter { !$0.hasPrefix(Self.answerMarker + " ") }
        let message = lines.last { $0.hasPrefix("curl: (") }
            .map { line in String(line.drop { $0 != ")" }.dropFirst().drop { $0 == " " }) }
            ?? lines.last.map(String.init) ?? "curl exit status \(status)"
        return switch status {
        case 22 where answer == 401 || answer == 407:
            "the server answered HTTP \(answer), expected 200: the user name and password are missing or refused"
        case 22: "the server answered HTTP \(answer), expected 200"
        case 63: "the server announces or sends more than the \(Self.maximumBytes) bytes a photo may have"
        case 6: "no such host (\(message))"
        case 7: "could not connect (\(message))"
        case 28: "timed out: under one byte a second for \(timeoutSeconds) s, or \(timeoutSeconds * 10) s in all (\(message))"
        case 35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 83, 90, 91: "the secure connection failed (\(message))"
        case 47: "more than 10 redirects (\(message))"
        case 18, 52, 55, 56: "the connection broke (\(message))"
        case 1: "a protocol curl does not take: a redirect to a scheme other than http or https, or https with a curl built without TLS (\(message))"
        default: "curl failed with exit status \(status) (\(message))"
        }
    }

    /// The `curl` executable on `PATH`, nil when there is none.
    private static func locateCurl() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/curl" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
