import EmovereTestSupport
import Foundation
import Testing

/// `emovere analyze URL` and `analyze -`: photos downloaded from a loopback web server or read from standard input,
/// against the same photo read from its file.
@Suite(.serialized, .enabled(if: CommandRunner.executable != nil, "the emovere executable is not built"))
struct AnalyzeURLTests {
    /// The JSON line of `path` in the results file at `log`.
    static func line(of path: String, in log: String) throws -> [String: Any]? {
        try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { $0["path"] as? String == path }
    }

    /// A loopback web server answering each request with the sample photo, after the statuses of `firstAnswers`.
    static func photoServer(firstAnswers: [String] = []) throws -> LoopbackStreamServer {
        try LoopbackStreamServer(body: Array(try Data(contentsOf: URL(fileURLWithPath: AnalyzeTests.sample))),
                                 headers: ["Content-Type: image/jpeg"], firstAnswers: firstAnswers)
    }

    /// The sample's URL on the server at `port`, with a password and a query.
    static func passwordURL(port: Int) -> String {
        "http://viewer:secret@127.0.0.1:\(port)/photos/astronaut.jpg?size=large"
    }

    @Test func photoFromAURLGivesTheFileAnswerWithoutShowingThePassword() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let server = try Self.photoServer()
        defer { server.stop() }
        let url = Self.passwordURL(port: server.port)
        let shown = "http://viewer:***@127.0.0.1:\(server.port)/photos/astronaut.jpg?size=large"
        let copies = scratch.path + "/copies", log = scratch.path + "/log.jsonl"
        let result = try AnalyzeTests.analyze([AnalyzeTests.sample, url, "--tta", "none", "--annotate", copies,
                                               "--output", log])
        try #require(result.status == 0, "\(result)")
        #expect(!(result.standardOutput + result.standardError).contains("secret"), "\(result)")
        let fromFile = try #require(try Self.line(of: AnalyzeTests.sample, in: log))
        let written = try String(contentsOfFile: log, encoding: .utf8)
        let fromURL = try #require(try Self.line(of: shown, in: log), "\(written)")
        #expect(fromURL["sha256"] as? String == fromFile["sha256"] as? String && fromURL["bytes"] as? Int == fromFile["bytes"] as? Int)
        let faces = try #require(fromURL["faces"] as? [[String: Any]])
        let fileFaces = try #require(fromFile["faces"] as? [[String: Any]])
        #expect(faces.count == 1, "\(fromURL)")
        #expect(try JSONSerialization.data(withJSONObject: faces, options: .sortedKeys)
                == JSONSerialization.data(withJSONObject: fileFaces, options: .sortedKeys), "\(fromURL)")
        // The copy is named by the URL's path, after the file's copy (the same name) took the plain one.
        #expect(FileManager.default.fileExists(atPath: copies + "/astronaut.annotated.jpg"))
        #expect(fromURL["annotation"] as? String == copies + "/astronaut-2.annotated.jpg", "\(fromURL)")
        #expect(!written.contains("secret"))

        // The password went as basic authentication, not in the request line.
        let heads = server.requestHeads
        try #require(heads.count == 1, "\(heads)")
        #expect(heads[0].hasPrefix("GET /photos/astronaut.jpg?size=large HTTP/1.1\r\n"), "\(heads[0])")
        #expect(heads[0].contains("Authorization: Basic dmlld2VyOnNlY3JldA==\r\n"), "\(heads[0])")

        // A resumed run knows the URL's line (recorded with the password hidden) and downloads nothing again.
        let resumed = try AnalyzeTests.analyze([AnalyzeTests.sample, url, "--tta", "none", "--output", log, "--resume"])
        #expect(resumed.status == 0 && resumed.standardError.hasPrefix("0 photos done"), "\(resumed)")
        #expect(server.requestHeads.count == 1)
    }

    /// `-` reads one photo from standard input, named `stdin` in output folders; named twice or beside a list on
    /// standard input it is refused.
    @Test func photoOnStandardInputGivesTheFileAnswer() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let modelPath = try AnalyzeTests.model.get()
        let options = ["--json", "--tta", "none", "--model", modelPath]
        let fromFile = try AnalyzeTests.photos(try AnalyzeTests.analyze([AnalyzeTests.sample, "--json", "--tta", "none"]))
        let copies = scratch.path + "/copies"
        let result = try CommandRunner.run(["analyze", "-", AnalyzeTests.sample, "--annotate", copies] + options,
                                           input: AnalyzeTests.sample)
        try #require(result.status == 0, "\(result)")
        let photos = try AnalyzeTests.photos(result)
        try #require(photos.count == 2 && fromFile.count == 1, "\(result)")
        #expect(photos[0]["path"] as? String == "-" && photos[0]["sha256"] as? String == fromFile[0]["sha256"] as? String)
        #expect(try JSONSerialization.data(withJSONObject: photos[0]["faces"] ?? [], options: .sortedKeys)
                == JSONSerialization.data(withJSONObject: fromFile[0]["faces"] ?? [], options: .sortedKeys), "\(result)")
        #expect(photos[0]["annotation"] as? String == copies + "/stdin.annotated.png", "\(photos[0])")

        let text = scratch.path + "/note.txt"
        try "not a photo".write(toFile: text, atomically: true, encoding: .utf8)
        let notAPhoto = try CommandRunner.run(["analyze", "-"] + options, input: text)
        #expect(notAPhoto.status == 1 && notAPhoto.standardError.contains("standard input"), "\(notAPhoto)")
        // Standard input that cannot be read (a folder) is an error for that photo; it stopped the process.
        let folder = try CommandRunner.run(["analyze", "-", AnalyzeTests.sample] + options, input: scratch.path)
        let folderPhotos = try AnalyzeTests.photos(folder)
        #expect(folder.status == 1 && folder.standardError.contains("cannot read standard input: Is a directory")
                && folderPhotos.count == 2, "\(folder)")
        for arguments in [["-", "-"], ["-", "--files-from", "-"], ["-", "--shard", "1/2"]] {
            let refused = try CommandRunner.run(["analyze"] + arguments + options, input: AnalyzeTests.sample)
            #expect(refused.status == 64 && refused.standardError.contains("standard input"), "\(refused)")
        }
        // In a list, - is a file of that name, not standard input.
        let list = scratch.path + "/list.txt"
        try "-\n".write(toFile: list, atomically: true, encoding: .utf8)
        let listed = try CommandRunner.run(["analyze", "--files-from", list] + options, input: AnalyzeTests.sample)
        let listedPath = try AnalyzeTests.photos(listed).first?["path"] as? String
        #expect(listed.status == 1 && listedPath == "./-", "\(listed)")
        // explain reads it too.
        let explained = try CommandRunner.run(["explain", "-", "--json", "--model", modelPath, "--out",
                                               scratch.path + "/explained.png"], input: AnalyzeTests.sample)
        let explainedPath = try ExplainTests.report(explained)["path"] as? String
        #expect(explained.status == 0 && explainedPath == "-", "\(explained)")
    }

    /// `explain` reads a URL as `analyze` does, and names its default output by the URL's path.
    @Test func explainReadsAURL() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let server = try Self.photoServer()
        defer { server.stop() }
        let url = Self.passwordURL(port: server.port)
        let modelPath = try AnalyzeTests.model.get()
        let result = try CommandRunner.run(["explain", url, "--json", "--model", modelPath], in: scratch.path)
        try #require(result.status == 0, "\(result)")
        #expect(!(result.standardOutput + result.standardError).contains("secret"), "\(result)")
        let report = try ExplainTests.report(result)
        #expect(report["path"] as? String == "http://viewer:***@127.0.0.1:\(server.port)/photos/astronaut.jpg?size=large")
        #expect(report["output"] as? String == "astronaut.explained.jpg", "\(report)")
        #expect((report["faces"] as? [[String: Any]])?.count == 1, "\(report)")
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/astronaut.explained.jpg"))
    }

    @Test func failedDownloadsAreReportedByURL() throws {
        let missing = try LoopbackStreamServer(firstAnswers: ["404 Not Found"])
        defer { missing.stop() }
        let page = try LoopbackStreamServer(body: Array("<!DOCTYPE html><p>a photo's page</p>".utf8),
                                            headers: ["Content-Type: text/html; charset=utf-8"])
        defer { page.stop() }
        let closed = try LoopbackStreamServer.freePort()
        let urls = ["http://127.0.0.1:\(missing.port)/gone.jpg", "HTTP://127.0.0.1:\(page.port)/photo",
                    "http://u:secret@127.0.0.1:\(closed)/a.jpg"]
        let result = try AnalyzeTests.analyze(urls + ["--json"])
        #expect(result.status == 1, "\(result)")
        let photos = try AnalyzeTests.photos(result)
        let errors = photos.compactMap { $0["error"] as? String }
        try #require(errors.count == 3, "\(result)")
        #expect(errors[0] == "cannot download \(urls[0]): the server answered HTTP 404, expected 200", "\(errors)")
        #expect(errors[1].hasPrefix("cannot download \(urls[1]): the server sent text/html"), "\(errors)")
        #expect(errors[2].hasPrefix("cannot download http://u:***@127.0.0.1:\(closed)/a.jpg: could not connect ("),
                "\(errors)")
        #expect(!(result.standardOutput + result.standardError).contains("secret"), "\(result)")

        // Other schemes are refused, named without their password, given on the command line or in a list.
        let refusal = "ftp://u:***@127.0.0.1/a.jpg: expected a photo's path or an http or https URL, found the scheme 'ftp'"
        let ftp = try AnalyzeTests.analyze(["ftp://u:secret@127.0.0.1/a.jpg"])
        #expect(ftp.status != 0 && ftp.standardError.contains(refusal) && !ftp.standardError.contains("secret"), "\(ftp)")
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let list = scratch.path + "/list.txt"
        try "ftp://u:secret@127.0.0.1/a.jpg\n".write(toFile: list, atomically: true, encoding: .utf8)
        let listed = try AnalyzeTests.analyze(["--files-from", list, "--json"])
        #expect(listed.status == 1 && listed.standardError.contains(refusal) && !listed.standardOutput.contains("secret"),
                "\(listed)")
    }

    /// A photo announced larger than 256 MiB is refused at once, not downloaded until the server stops.
    @Test func oversizedPhotoIsRefusedFromItsAnnouncedLength() throws {
        let huge = try LoopbackStreamServer(body: [0xFF, 0xD8, 0xFF], headers: ["Content-Type: image/jpeg",
                                                                                "Content-Length: 1073741824"],
                                            stallsAfterBody: true)
        defer { huge.stop() }
        let url = "http://127.0.0.1:\(huge.port)/huge.jpg"
        let result = try AnalyzeTests.analyze([url, "--json"])
        let errors = try AnalyzeTests.photos(result).compactMap { $0["error"] as? String }
        #expect(result.status == 1 && errors == ["cannot download \(url): the server announces or sends more than the 268435456 bytes a photo may have"], "\(result)")
    }

    /// A URL reaches curl as data: a quote with a combining mark (one Swift character) cannot end it, and a control
    /// character (a line break that would start another curl option) is refused.
    @Test func urlsCannotAddOptionsToCurl() throws {
        let server = try Self.photoServer()
        defer { server.stop() }
        let quoted = "http://127.0.0.1:\(server.port)/a\"\u{301}b\\c.jpg\"upload-file"
        let result = try AnalyzeTests.analyze([quoted, "--json", "--tta", "none"])
        #expect(result.status == 0, "\(result)")
        let heads = server.requestHeads
        // curl percent-encodes the combining mark; the rest arrives as given.
        #expect(heads.count == 1 && heads[0].hasPrefix("GET /a\"")
                && heads[0].contains("b\\c.jpg\"upload-file HTTP/1.1\r\n"), "\(heads)")
        let broken = "http://127.0.0.1:\(server.port)/a.jpg\r\nupload-file /etc/hostname"
        let refused = try AnalyzeTests.analyze([broken, "--json"])
        let errors = try AnalyzeTests.photos(refused).compactMap { $0["error"] as? String }
        #expect(refused.status == 1 && errors.count == 1
                && errors[0].hasSuffix("expected a URL without control characters, found U+000D (percent-encode it)"), "\(refused)")
        #expect(server.requestHeads.count == 1)
    }

    /// Without curl, or with one that fails before downloading, the reason is named (and emovere is not ended by the
    /// pipe curl left unread).
    @Test func missingOrBrokenCurlIsNamed() throws {
        let scratch = try CommandLineTests.Scratch()
        defer { scratch.remove() }
        let url = "http://127.0.0.1:1/a.jpg"
        let missing = try AnalyzeTests.analyze([url, "--json"], environment: ["PATH": scratch.path])
        let missingErrors = try AnalyzeTests.photos(missing).compactMap { $0["error"] as? String }
        #expect(missing.status == 1 && missingErrors.first?.contains("need the curl tool, which is not on PATH") == true,
                "\(missing)")
        let fake = scratch.path + "/curl"
        try "#!/bin/sh\necho 'curl: option --compressed: the installed libcurl version does not support this' >&2\nexit 2\n"
            .write(toFile: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake)
        // Longer than a pipe's buffer: writing it to the curl that exited fails (SIGPIPE, ignored).
        let long = "http://127.0.0.1:1/" + String(repeating: "a", count: 100_000) + ".jpg"
        let broken = try AnalyzeTests.analyze([long, "--json"], environment: ["PATH": scratch.path])
        let brokenErrors = try AnalyzeTests.photos(broken).compactMap { $0["error"] as? String }
        #expect(broken.status == 1 && brokenErrors.first?.hasSuffix(
            "curl failed with exit status 2 (curl: option --compressed: the installed libcurl version does not support this)") == true,
                "\(broken)")
    }

    /// Credentials follow a redirect to the same scheme, host and port only.
    @Test func credentialsStayWithTheirOrigin() throws {
        let other = try Self.photoServer()
        defer { other.stop() }
        let elsewhere = try LoopbackStreamServer(firstAnswers: ["302 Found\r\nLocation: http://127.0.0.1:\(other.port)/b.jpg"])
        defer { elsewhere.stop() }
        let here = try Self.photoServer(firstAnswers: ["302 Found\r\nLocation: /photos/b.jpg"])
        defer { here.stop() }
        let result = try AnalyzeTests.analyze(["http://u:secret@127.0.0.1:\(elsewhere.port)/a.jpg",
                                               "http://u:secret@127.0.0.1:\(here.port)/a.jpg", "--json", "--tta", "none"])
        try #require(result.status == 0, "\(result)")
        let authorization = "Authorization: Basic dTpzZWNyZXQ=\r\n"
        let otherHeads = other.requestHeads, hereHeads = here.requestHeads
        try #require(otherHeads.count == 1 && hereHeads.count == 2, "\(otherHeads) \(hereHeads)")
        #expect(elsewhere.requestHeads.first?.contains(authorization) == true, "\(elsewhere.requestHeads)")
        #expect(!otherHeads[0].contains("Authorization"), "\(otherHeads)")
        #expect(hereHeads[1].hasPrefix("GET /photos/b.jpg ") && hereHeads[1].contains(authorization), "\(hereHeads)")
    }
}
