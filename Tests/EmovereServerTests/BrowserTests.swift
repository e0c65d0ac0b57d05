import Dispatch
import EmovereServer
import EmovereTestSupport
import EmovereVision
import Foundation
import ServiceLifecycle
import Synchronization
import Testing

/// The web page in a real browser: headless Chromium (Debian's chromium, chromium-driver and python3-selenium,
/// which `scripts/test.sh` installs) with a fake camera playing a video made from the sample photo. The page must
/// draw a face box with an emotion label, reopen a stream the server closed and go on drawing, and show the result of
/// the photo upload; a screenshot is kept. The server
/// allows one other origin, itself under the name `localhost`: a page from there reads the API and opens the stream
/// of `127.0.0.1` (CORS), while the page of `127.0.0.1`, not allowed there, can do neither with `localhost`.
struct BrowserTests {
    static let chromium = "/usr/bin/chromium"
    static let driver = "/usr/bin/chromedriver"
    /// Debian's interpreter, which sees python3-selenium (a python3 earlier on PATH may not).
    static let python = "/usr/bin/python3"
    static let script = ServerFixture.root + "/Tests/EmovereServerTests/browser_check.py"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: chromium),
                   "Chromium is not installed: apt-get install chromium chromium-driver python3-selenium (scripts/test.sh does)"))
    func webcamPageDrawsAFace() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.driver),
                     "\(Self.driver) missing: apt-get install chromium-driver")
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "\(Self.python) missing: apt-get install python3")
        let artifacts = ServerFixture.root + "/.build/test-artifacts"
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let video = scratch.appendingPathComponent("astronaut.y4m").path
        try Y4MWriter.write(try RGBImage(decoding: ServerFixture.sampleJPEG), frames: 10, framesPerSecond: 10, to: video)

        let (ports, portReceived) = AsyncStream.makeStream(of: Int.self)
        var configuration = ServerFixture.patientConfiguration
        configuration.port = try LoopbackStreamServer.freePort()  // the allowed origin names it
        let otherOrigin = "http://localhost:\(configuration.port)"
        configuration.crossOrigin = CrossOriginPolicy(allowedOrigins: [otherOrigin])
        let application = try ServerFixture.server(configuration).application { port in portReceived.yield(port) }
        let services = ServiceGroup(configuration: .init(services: [application], logger: ServerFixture.logger))
        let serving = Task {
            defer { portReceived.finish() }  // a server that fails to start ends the wait for its port
            try await services.run()
        }
        var portIterator = ports.makeAsyncIterator()
        guard let port = await portIterator.next() else {
            try await serving.value
            Issue.record("the server stopped before it listened")
            return
        }

        let screenshot = artifacts + "/browser-webcam-page.png"
        let output: (status: Int32, standardOutput: String, standardError: String)
        do {
            output = try await Self.run(Self.python, [Self.script, "--url", "http://127.0.0.1:\(port)/", "--video", video,
                                                 "--photo", ServerFixture.samplePath, "--screenshot", screenshot,
                                                 "--chromium", Self.chromium, "--driver", Self.driver,
                                                 "--other-origin", otherOrigin + "/",
                                                 "--frame-limit", String(configuration.maximumFrameBytes)])
        } catch {
            await services.triggerGracefulShutdown()
            throw error
        }
        await services.triggerGracefulShutdown()
        try await serving.value
        print("browser test screenshot: \(screenshot)")
        print("browser test result: \(output.standardOutput)")
        try #require(output.status == 0, "browser check failed: \(output.standardOutput)\n\(output.standardError)")
        struct CrossOriginCalls: Decodable, Equatable {
            var models: String
            var analyze: String
            var stream: Bool
        }
        struct Outcome: Decodable {
            var faces: Int
            var emotion: String
            var overlayPixels: Int
            var photoFaces: Int
            var framesAnalysed: Int
            var fromPage: CrossOriginCalls
            var fromOtherPage: CrossOriginCalls
            var fileInputFocusable: Bool
            var cameraLossStatus: String
            var cameraButton: String
            var reconnectStatuses: [String]
        }
        let line = output.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
        let outcome = try JSONDecoder().decode(Outcome.self, from: Data(line.utf8))
        #expect(outcome.faces == 1)
        #expect(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"].contains(outcome.emotion))
        #expect(outcome.overlayPixels > 1000, "the overlay should show the box, label and bars")
        #expect(outcome.photoFaces == 1)
        #expect(outcome.fileInputFocusable, "the photo input must take the keyboard's focus")
        #expect(outcome.cameraLossStatus.hasPrefix("camera stopped") && outcome.cameraButton == "Start camera",
                "\(outcome.cameraLossStatus), \(outcome.cameraButton)")
        #expect(outcome.framesAnalysed >= 2)
        // A stream the server closed (a frame over its limit: 1009, or 1006 should the close race the rest of the
        // frame's bytes) is reopened with the camera kept: faces come again.
        let closed = outcome.reconnectStatuses.first ?? ""
        #expect([("a frame was larger than the server accepts (its --max-frame-bytes)", 1009),
                 ("the connection was lost", 1006)].contains { meaning, code in
                     closed == "stream closed: \(meaning) (code \(code)); reconnecting in 1 s (try 1 of 5)"
                 }
                && outcome.reconnectStatuses.last?.hasPrefix("#") == true, "\(outcome.reconnectStatuses)")
        #expect(FileManager.default.fileExists(atPath: screenshot))
        #expect(outcome.fromPage == CrossOriginCalls(models: "blocked", analyze: "blocked", stream: false))
        #expect(outcome.fromOtherPage.models == "200")
        #expect(outcome.fromOtherPage.analyze.hasPrefix("422 ") && outcome.fromOtherPage.analyze.contains("unsupported image format"),
                "\(outcome.fromOtherPage)")
        #expect(outcome.fromOtherPage.stream)
    }

    /// Runs `executable` with `arguments` and returns its exit status and output.
    static func run(_ executable: String, _ arguments: [String]) async throws
        -> (status: Int32, standardOutput: String, standardError: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let outputPipe = Pipe(), errorPipe = Pipe()
        process.standardOutput = outputPipe
        process.standardError = errorPipe
        try process.run()
        // Wait on a Dispatch thread: blocking a Swift concurrency thread could starve the in-process server.
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let group = DispatchGroup()
                let output = Collected()
                DispatchQueue.global().async(group: group) {
                    let data = outputPipe.fileHandleForReading.readDataToEndOfFile()
                    output.data.withLock { $0 = data }
                }
                let errorData = errorPipe.fileHandleForReading.readDataToEndOfFile()
                group.wait()
                let outputData = output.data.withLock { $0 }
                process.waitUntilExit()
                continuation.resume(returning: (process.terminationStatus, String(decoding: outputData, as: UTF8.self),
                                                String(decoding: errorData, as: UTF8.self)))
            }
        }
    }
}

/// Bytes read by one Dispatch work item and used by another.
private final class Collected: Sendable {
    let data = Mutex(Data())
}

/// Writes YUV4MPEG2 (`.y4m`) video: a text header, then per frame `FRAME\n` and the Y, Cb and Cr planes (4:2:0,
/// full-range JPEG coefficients), the format Chromium's `--use-file-for-fake-video-capture` reads.
enum Y4MWriter {
    static func write(_ image: RGBImage, frames: Int, framesPerSecond: Int, to path: String) throws {
        let width = image.width & ~1, height = image.height & ~1
        var luma = [UInt8](repeating: 0, count: width * height)
        var blue = [UInt8](repeating: 0, count: width * height / 4)
        var red = [UInt8](repeating: 0, count: width * height / 4)
        func clamp(_ value: Double) -> UInt8 { UInt8(max(0, min(255, value.rounded()))) }
        for y in 0..<height {
            for x in 0..<width {
                let pixel = image[x, y]
                luma[y * width + x] = clamp(0.299 * Double(pixel.red) + 0.587 * Double(pixel.green) + 0.114 * Double(pixel.blue))
            }
        }
        for y in stride(from: 0, to: height, by: 2) {
            for x in stride(from: 0, to: width, by: 2) {
                var (r, g, b) = (0.0, 0.0, 0.0)
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let pixel = image[x + dx, y + dy]
                    r += Double(pixel.red) / 4
                    g += Double(pixel.green) / 4
                    b += Double(pixel.blue) / 4
                }
                let index = (y / 2) * (width / 2) + x / 2
                blue[index] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b)
                red[index] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b)
            }
        }
        var data = Data("YUV4MPEG2 W\(width) H\(height) F\(framesPerSecond):1 Ip A1:1 C420jpeg\n".utf8)
        for _ in 0..<frames {
            data.append(Data("FRAME\n".utf8))
            data.append(contentsOf: luma)
            data.append(contentsOf: blue)
            data.append(contentsOf: red)
        }
        try data.write(to: URL(fileURLWithPath: path))
    }
}
