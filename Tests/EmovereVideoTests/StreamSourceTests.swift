@testable import EmovereVideo
import EmovereTestSupport
import EmovereVision
import Foundation
import Testing

/// Network streams (IP cameras): read as they come from a loopback HTTP server, and bounded: a stream that never
/// answers, or stops sending frames, fails within its timeout instead of holding the reader for ever.
@Suite(.enabled(if: FFmpegTools.isAvailable, TestVideos.ffmpegMissing))
struct StreamSourceTests {
    /// A `seconds`-long, 10 frames/s MPEG-TS clip of the sample photo.
    static func clip(seconds: Int, in videos: TestVideos) throws -> [UInt8] {
        let path = videos.path("clip.ts")
        try TestVideos.ffmpeg(["-loop", "1", "-i", TestVideos.samplePhoto, "-t", "\(seconds)", "-r", "10", "-vf", "scale=160:160",
                               "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts", path])
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func everyFrameOfAStreamIsReadAsItComes() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let server = try LoopbackStreamServer(body: try Self.clip(seconds: 3, in: videos))
        defer { server.stop() }
        // A timeout no busy machine reaches: this test is about reading, not stalling.
        let reader = try VideoReader(source: .stream(url: "http://127.0.0.1:\(server.port)/clip.ts", timeoutSeconds: 120))
        #expect(reader.info.width == 160 && reader.info.height == 160 && reader.info.frameCount == nil)
        var frame = RGBImage(width: 0, height: 0, pixels: [])
        while try reader.read(into: &frame) {}
        #expect(reader.framesRead == 30)
    }

    @Test func aStreamThatStopsSendingFailsWithinItsTimeout() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        // The clip, then silence on an open connection (a camera that stopped sending).
        let server = try LoopbackStreamServer(body: try Self.clip(seconds: 8, in: videos), stallsAfterBody: true)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/clip.ts"
        // 30 s: the probe and the first frame's wait include starting ffprobe and ffmpeg, which a busy 2-core machine
        // running the suite in parallel may delay for many seconds. Should the stall go unnoticed, the server stops
        // after three minutes (the read then ends without a stall).
        let reader = try VideoReader(source: .stream(url: url, timeoutSeconds: 30))
        let watchdog = DispatchWorkItem { server.stop() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 180, execute: watchdog)
        defer { watchdog.cancel() }
        var frame = RGBImage(width: 0, height: 0, pixels: [])
        let error = #expect(throws: VideoError.self) { while try reader.read(into: &frame) {} }
        guard case let .stalled(path, seconds, framesRead?) = error else {
            Issue.record("expected a stall after some frames, received \(String(describing: error))")
            return
        }
        // Most of the 80 frames come through; the decoder holds the last few (its threads and the unfinished last
        // packet) while it waits for more.
        #expect(path == url && seconds == 30 && framesRead > 40 && framesRead < 80, "\(framesRead) frames")
        #expect(error?.description.contains("no frame for 30 s") == true, "\(String(describing: error))")
    }

    /// A remote file whose server stops sending part-way (the connection left open) breaks off with ffmpeg's read
    /// timeout, after the frames that came, instead of holding the reader for ever.
    @Test func aRemoteFileThatStopsSendingBreaksOff() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let clip = try Self.clip(seconds: 8, in: videos)
        let server = try LoopbackStreamServer(body: Array(clip.prefix(clip.count / 2)), stallsAfterBody: true)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/clip.ts"
        let reader = try VideoReader(source: .remoteFile(url: url, timeoutSeconds: 5))
        // Without ffmpeg's timeout the read would wait for ever: the server is stopped after two minutes, which
        // ends the download without "timed out".
        let watchdog = DispatchWorkItem { server.stop() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        defer { watchdog.cancel() }
        var frame = RGBImage(width: 0, height: 0, pixels: [])
        let error = #expect(throws: VideoError.self) { while try reader.read(into: &frame) {} }
        guard case let .brokenStream(path, framesRead, details) = error else {
            Issue.record("expected the download to break off, received \(String(describing: error))")
            return
        }
        #expect(path == url && framesRead > 10 && framesRead < 80, "\(framesRead) frames")
        #expect(details.contains("timed out"), "\(details)")
    }

    /// Ctrl-C while a stream does not answer: the cancellation stops the probe at once, not at the stream's timeout.
    @Test func aCancelledProbeEndsBeforeItsTimeout() throws {
        let server = try LoopbackStreamServer(accepts: false)
        defer { server.stop() }
        let cancellation = VideoCancellation()
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { cancellation.cancel() }
        let started = ContinuousClock.now
        #expect(throws: VideoError.self) {
            _ = try VideoReader(source: .stream(url: "http://127.0.0.1:\(server.port)/live", timeoutSeconds: 120),
                                cancellation: cancellation)
        }
        #expect(cancellation.isCancelled && ContinuousClock.now - started < .seconds(30))
        // Once cancelled, a later probe under it stops as it starts.
        #expect(throws: VideoError.self) {
            _ = try VideoReader(source: .stream(url: "http://127.0.0.1:\(server.port)/live", timeoutSeconds: 120),
                                cancellation: cancellation)
        }
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func aStreamThatNeverAnswersFailsTheProbeWithinItsTimeout() throws {
        let server = try LoopbackStreamServer(accepts: false)
        defer { server.stop() }
        let started = ContinuousClock.now
        let error = #expect(throws: VideoError.self) {
            _ = try VideoReader(source: .stream(url: "http://camera:secret@127.0.0.1:\(server.port)/live", timeoutSeconds: 2))
        }
        #expect(error == .stalled(path: "http://camera:***@127.0.0.1:\(server.port)/live", seconds: 2, framesRead: nil))
        #expect(ContinuousClock.now - started < .seconds(60))
    }
}

/// A stream's ffmpeg options and how its URL is checked and shown (no ffmpeg needed).
struct StreamURLTests {
    @Test func rtspIsReadOverTCPAndOtherStreamsAsTheyAre() {
        #expect(VideoSource.stream(url: "rtsp://cam/1").inputArguments(realTime: false)
            == ["-rtsp_transport", "tcp", "-analyzeduration", "1000000", "-i", "rtsp://cam/1"])
        #expect(VideoSource.stream(url: "http://cam/1.ts").inputArguments(realTime: true)
            == ["-analyzeduration", "1000000", "-i", "http://cam/1.ts"])
        #expect(VideoSource.stream(url: "rtsp://cam/1").isLive && VideoSource.stream(url: "rtsp://cam/1").stallTimeoutSeconds == 10)
        #expect(VideoSource.file("a.mp4").stallTimeoutSeconds == nil)
    }

    /// An http, https or ftp URL given where a recording is read is a remote file (not live, ffmpeg's read timeout
    /// bounding a stall); anything else, `weird://` paths too, a file.
    @Test func recordingsAreFilesOrRemoteFiles() {
        #expect(VideoSource.recording("HTTPS://host/clip.mp4") == .remoteFile(url: "HTTPS://host/clip.mp4"))
        #expect(VideoSource.recording("ftp://host/clip.mp4") == .remoteFile(url: "ftp://host/clip.mp4"))
        for path in ["clip.mp4", "clips/http://x.mp4", "rtsp://cam/1", "://x", "/tmp/a:b.mp4"] {
            #expect(VideoSource.recording(path) == .file(path), "\(path)")
        }
        #expect(VideoSource.scheme(of: "RTSP://cam/1") == "rtsp" && VideoSource.scheme(of: "clips/http://x") == nil)
        let remote = VideoSource.remoteFile(url: "http://u:pw@host/a.mp4", timeoutSeconds: 2.5)
        #expect(!remote.isLive && remote.stallTimeoutSeconds == nil && remote.name == "http://u:***@host/a.mp4")
        #expect(remote.inputArguments(realTime: false) == ["-rw_timeout", "2500000", "-i", "http://u:pw@host/a.mp4"])
        // ffmpeg knows protocols by their lower-case names.
        #expect(VideoSource.recording("HTTPS://Host/A.mp4").inputArguments(realTime: false).last == "https://Host/A.mp4")
        #expect(VideoSource.stream(url: "RTSP://Cam/1").inputArguments(realTime: false).last == "rtsp://Cam/1")
    }

    /// ffmpeg exits 0 after a failed download: its messages tell a timeout, a reset or a short answer from the end
    /// of an answer without a length (reported as an I/O error, also when whole).
    @Test func failedDownloadsAreToldFromWholeOnes() {
        let remote = VideoSource.remoteFile(url: "http://host/a.ts")
        #expect(remote.downloadFailed(messages: "http://host/a.ts: Connection timed out"))
        #expect(remote.downloadFailed(messages: "http://host/a.ts: Connection reset by peer"))
        #expect(remote.downloadFailed(messages: "[http @ 0x1] Stream ends prematurely at 100, should be 5000"))
        #expect(!remote.downloadFailed(messages: "[http @ 0x1] Stream ends prematurely at 10349, should be 18446744073709551615\nhttp://host/a.ts: Input/output error"))
        #expect(!remote.downloadFailed(messages: ""))
        #expect(!VideoSource.file("a.ts").downloadFailed(messages: "Connection timed out"))
    }

    @Test(arguments: [("rtsp://cam/1", nil), ("RTSPS://cam/1", nil), ("srt://127.0.0.1:9000", nil),
                      ("ftp://x/y", "found the scheme 'ftp'"), ("camera.local/stream", "expected a URL"),
                      ("rtsp://", "expected a URL"), ("file:///dev/zero", "found the scheme 'file'")])
    func streamURLs(url: String, problem: String?) {
        let found = VideoSource.problem(withStreamURL: url)
        if let problem {
            #expect(found?.contains(problem) == true, "\(String(describing: found))")
        } else {
            #expect(found == nil)
        }
    }

    @Test(arguments: [("rtsp://admin:hunter2@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"),
                      ("rtsp://admin@10.0.0.5/s", "rtsp://***@10.0.0.5/s"), ("http://cam/a:b@c", "http://cam/a:b@c"),
                      ("rtsp://a:p@ss@cam/s", "rtsp://a:***@cam/s")])
    func passwordsAreHiddenInMessages(url: String, shown: String) {
        #expect(VideoSource.stream(url: url).name == shown)
    }

    /// ffmpeg names the URL in its messages: the password is hidden there too.
    @Test(.enabled(if: FFmpegTools.isAvailable, TestVideos.ffmpegMissing))
    func passwordsAreHiddenInFFmpegsMessages() throws {
        let port = try LoopbackStreamServer.freePort()  // nothing listens: refused
        let url = "rtsp://admin:hunter2@127.0.0.1:\(port)/stream1"
        let error = #expect(throws: VideoError.self) { _ = try VideoReader(source: .stream(url: url, timeoutSeconds: 60)) }
        let message = error?.description ?? ""
        #expect(message.contains("admin:***@127.0.0.1") && message.contains("refused") && !message.contains("hunter2"),
                "\(message)")
    }
}
