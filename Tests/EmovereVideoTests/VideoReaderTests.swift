@testable import EmovereVideo
import EmovereVision
import Foundation
import Testing

@Suite(.enabled(if: FFmpegTools.isAvailable, TestVideos.ffmpegMissing))
struct VideoReaderTests {
    @Test func probeReportsSizeRateCountAndDuration() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let info = try VideoInfo.probe(.file(try videos.movingFace()), tools: FFmpegTools.locate())
        #expect(info.width == 320 && info.height == 240)
        #expect(info.frameRate == 15 && info.frameRateText == "15/1")
        #expect(info.frameCount == 45 && !info.frameCountIsEstimate)
        #expect(abs((info.duration ?? 0) - 3) < 0.01)
        #expect(!info.hasAudio)
        #expect(info.codec == "h264")
        #expect(info.frameByteCount == 320 * 240 * 3)
    }

    /// In Matroska the video stream's duration is its DURATION tag; the container's may be a longer sound track's.
    @Test func theVideoStreamsOwnDurationCounts() throws {
        let json = """
            {"streams": [
              {"index": 0, "codec_type": "video", "codec_name": "h264", "width": 320, "height": 240,
               "r_frame_rate": "15/1", "avg_frame_rate": "15/1", "tags": {"DURATION": "00:00:01.000000000"}},
              {"index": 1, "codec_type": "audio", "codec_name": "aac", "tags": {"DURATION": "00:00:03.008000000"}}],
             "format": {"duration": "3.008"}}
            """
        let info = try VideoInfo(report: JSONDecoder().decode(ProbeReport.self, from: Data(json.utf8)), source: "a.mkv")
        #expect(info.duration == 1 && info.frameCount == 15 && info.frameCountIsEstimate && info.durationIsTheVideoStreams)
        let untagged = json.replacingOccurrences(of: #""tags": {"DURATION": "00:00:01.000000000"}"#, with: #""tags": {}"#)
        let fallback = try VideoInfo(report: JSONDecoder().decode(ProbeReport.self, from: Data(untagged.utf8)),
                                     source: "b.mkv")
        #expect(fallback.duration == 3.008 && !fallback.durationIsTheVideoStreams)
        // A zero stream duration is no duration: the container's is used.
        let zero = json.replacingOccurrences(of: "00:00:01.000000000", with: "00:00:00.000000000")
        let zeroInfo = try VideoInfo(report: JSONDecoder().decode(ProbeReport.self, from: Data(zero.utf8)), source: "c.mkv")
        #expect(zeroInfo.duration == 3.008 && !zeroInfo.durationIsTheVideoStreams)
    }

    /// What a damaged or crafted header claims beyond any video is refused by name or ignored: sizes that overflowed
    /// or asked gigabytes a frame, a time base taken for a frame rate (each frame repeated thousands of times), an
    /// infinite duration and the most negative rotation (both trapped).
    @Test func impossibleHeadersAreRefusedOrIgnored() throws {
        func info(width: String = "320", height: String = "240", rate: String = "15/1", rotation: String = "0",
                  duration: String = "3") throws -> VideoInfo {
            let json = """
                {"streams": [{"codec_type": "video", "width": \(width), "height": \(height), "r_frame_rate": "\(rate)",
                  "avg_frame_rate": "0/0", "tags": {"rotate": "\(rotation)"}}], "format": {"duration": "\(duration)"}}
                """
            return try VideoInfo(report: JSONDecoder().decode(ProbeReport.self, from: Data(json.utf8)), source: "x.mkv")
        }
        for (width, height) in [("4294967296", "4294967296"), ("40000", "30000"), ("65536", "2")] {
            #expect {
                try info(width: width, height: height)
            } throws: { error in
                guard case let .invalidStreamProperties(path, _, found)? = error as? VideoError else { return false }
                return path == "x.mkv" && found == "\(width) x \(height)"
            }
        }
        #expect {
            try info(rate: "90000/1")
        } throws: { error in
            "\(error)".contains("at most 1000 frames/s") && "\(error)".contains("90000/1")
        }
        let endless = try info(duration: "inf")
        #expect(endless.duration == nil && endless.frameCount == nil)
        let turned = try info(rotation: "-9223372036854775808")
        #expect((turned.width, turned.height) == (320, 240))
    }

    /// Non-square pixels are decoded at the width players show (faces keep their shape); a quarter turn swaps sides.
    @Test func anamorphicVideoIsDecodedAtItsDisplayWidth() throws {
        // A damaged header's 65535:1 would make frames 21 million pixels wide: taken as square.
        for (aspect, rotation, expected) in [("2:1", 0, (640, 240)), ("1:1", 0, (320, 240)), ("0:1", 0, (320, 240)),
                                             ("4:3", 90, (240, 427)), ("65535:1", 0, (320, 240))] {
            let json = """
                {"streams": [{"codec_type": "video", "width": 320, "height": 240, "r_frame_rate": "15/1",
                  "sample_aspect_ratio": "\(aspect)", "tags": {"rotate": "\(rotation)"}}]}
                """
            let info = try VideoInfo(report: JSONDecoder().decode(ProbeReport.self, from: Data(json.utf8)), source: "a")
            #expect((info.width, info.height) == expected, "\(aspect), \(rotation)")
        }
    }

    /// A cover picture stored as a video stream before the film is skipped by the probe, and the reader decodes the
    /// stream the probe chose, not the input's first video stream.
    @Test func theProbedStreamIsTheOneDecoded() throws {
        let json = """
            {"streams": [
              {"index": 0, "codec_type": "video", "codec_name": "mjpeg", "width": 64, "height": 64,
               "r_frame_rate": "90000/1", "avg_frame_rate": "0/0", "disposition": {"attached_pic": 1}},
              {"index": 1, "codec_type": "video", "codec_name": "h264", "width": 320, "height": 240,
               "r_frame_rate": "15/1", "avg_frame_rate": "15/1", "nb_frames": "45"}]}
            """
        let report = try JSONDecoder().decode(ProbeReport.self, from: Data(json.utf8))
        let probed = try VideoInfo(report: report, source: "cover.mp4")
        #expect(probed.streamIndex == 1 && probed.width == 320 && probed.codec == "h264")

        let videos = try TestVideos()
        defer { videos.remove() }
        let film = try videos.movingFace()
        let cover = videos.path("cover.png")
        try TestVideos.ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", cover])
        let withCover = videos.path("with-cover.mkv")
        try TestVideos.ffmpeg(["-i", cover, "-i", film, "-map", "0", "-map", "1", "-c:v:0", "mjpeg", "-c:v:1", "copy",
                               withCover])
        let info = VideoInfo(width: 320, height: 240, frameRate: 15, frameRateText: "15/1", streamIndex: 1)
        let reader = try VideoReader(source: .file(withCover), info: info)
        var frame = RGBImage(width: 0, height: 0, pixels: [])
        #expect(try reader.read(into: &frame))
        // The film's blue-grey background (0x506070), not the red cover scaled up.
        #expect(abs(Int(frame.pixels[0]) - 0x50) < 16 && abs(Int(frame.pixels[2]) - 0x70) < 16, "\(frame.pixels.prefix(3))")
        reader.close()
    }

    @Test func probeSeesAudio() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let info = try VideoInfo.probe(.file(try videos.movingFace(audio: true)), tools: FFmpegTools.locate())
        #expect(info.hasAudio)
        #expect(info.frameCount == 45)
    }

    @Test func readerDeliversEveryFrameInPlace() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let reader = try VideoReader(source: .file(try videos.movingFace()))
        var frame = RGBImage(width: 0, height: 0, pixels: [])
        var count = 0
        var firstTopLeftPhotoColumn: Int?
        while try reader.read(into: &frame) {
            #expect(frame.width == 320 && frame.height == 240)
            // The bottom-right corner is background: 0x506070, within H.264's rounding.
            let corner = frame[319, 239]
            #expect(abs(Int(corner.red) - 0x50) < 8 && abs(Int(corner.green) - 0x60) < 8 && abs(Int(corner.blue) - 0x70) < 8,
                    "frame \(count): corner \(corner)")
            // The photo's left edge moves right by 2 px per frame (30 px/s at 15 frames/s).
            let row = 120
            let edge = (0..<320).first { x in
                let pixel = frame[x, row]
                return abs(Int(pixel.red) - 0x50) + abs(Int(pixel.green) - 0x60) + abs(Int(pixel.blue) - 0x70) > 60
            }
            if count == 0 { firstTopLeftPhotoColumn = try #require(edge, "no photo edge in the first frame") }
            if count == 30 {
                let first = try #require(firstTopLeftPhotoColumn)
                let edge = try #require(edge, "no photo edge in frame 30")
                #expect(abs(edge - first - 60) <= 2, "edge moved from \(first) to \(edge) in 30 frames")
            }
            count += 1
        }
        #expect(count == 45)
        #expect(reader.framesRead == 45)
        // Reading past the end keeps returning false.
        #expect(try reader.read(into: &frame) == false)
    }

    @Test func nextFrameAndEarlyCloseStopTheDecoder() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let reader = try VideoReader(source: .file(try videos.movingFace()))
        let first = try #require(try reader.nextFrame())
        #expect(first.pixels.count == 320 * 240 * 3)
        reader.close()
        #expect(try reader.nextFrame() == nil)
    }

    @Test func missingFileIsNamed() throws {
        let error = try #require(throws: VideoError.self) { try VideoReader(source: .file("/nonexistent/clip.mp4")) }
        #expect(error == .missingInput(path: "/nonexistent/clip.mp4"))
        #expect(error.description.contains("/nonexistent/clip.mp4"))
    }

    @Test func textFileNamedMP4IsUnreadableWithFFmpegsReason() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let path = videos.path("notes.mp4")
        try Data("this is not a video\n".utf8).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: VideoError.self) { try VideoReader(source: .file(path)) }
        guard case .unreadableInput(let named, let details) = error else {
            Issue.record("expected unreadableInput, got \(error)")
            return
        }
        #expect(named == path)
        #expect(!details.isEmpty, "ffprobe's message should be kept")
        #expect(error.description.contains("not a readable video") && error.description.contains("ffmpeg said"), "\(error)")
    }

    @Test func audioOnlyFileHasNoVideoStream() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let path = videos.path("tone.m4a")
        try TestVideos.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", path])
        let error = try #require(throws: VideoError.self) { try VideoReader(source: .file(path)) }
        #expect(error == .noVideoStream(path: path))
    }

    @Test func truncatedFileIsABrokenStream() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        // faststart puts the index first, so a truncated copy still announces 45 frames.
        let whole = try videos.movingFace(name: "whole.mp4")
        let indexed = videos.path("indexed.mp4")
        try TestVideos.ffmpeg(["-i", whole, "-c", "copy", "-movflags", "+faststart", indexed])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: indexed))
        let truncated = videos.path("truncated.mp4")
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: truncated))

        let reader = try VideoReader(source: .file(truncated))
        #expect(reader.info.frameCount == 45)
        var frame = RGBImage(width: 0, height: 0, pixels: [])
        var count = 0
        let error = try #require(throws: VideoError.self) {
            while try reader.read(into: &frame) { count += 1 }
        }
        guard case .brokenStream(let path, let framesRead, _) = error else {
            Issue.record("expected brokenStream, got \(error)")
            return
        }
        #expect(path == truncated && framesRead == count && count < 45)
        #expect(error.description.contains("broke off after \(count)"), "\(error)")
    }

    /// Matroska stores no frame count, and ffmpeg ends a truncated copy quietly with status 0: a video-only file whose
    /// frames stop far short of the duration in its header broke off (it read as complete).
    @Test func truncatedMatroskaIsABrokenStreamByItsDuration() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let whole = try videos.movingFace(name: "whole.mp4")
        let matroska = videos.path("whole.mkv")
        // A key frame every 5 frames, so the first half of the file still decodes.
        try TestVideos.ffmpeg(["-i", whole, "-an", "-c:v", "libx264", "-preset", "ultrafast", "-g", "5", matroska])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: matroska))
        let truncated = videos.path("truncated.mkv")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))

        let complete = try VideoReader(source: .file(matroska))
        #expect(complete.info.frameCountIsEstimate && complete.info.isVideoOnly)
        var frame = RGBImage(width: 0, height: 0, pixels: [])
        var whole45 = 0
        while try complete.read(into: &frame) { whole45 += 1 }
        #expect(whole45 == 45)
        let reader = try VideoReader(source: .file(truncated))
        var count = 0
        let error = try #require(throws: VideoError.self) {
            while try reader.read(into: &frame) { count += 1 }
        }
        #expect(error.description.contains("broke off after \(count) complete frames (its duration"), "\(error)")
    }

    @Test func missingToolsSayHowToInstall() {
        let error = #expect(throws: VideoError.self) { try FFmpegTools.locate(environment: ["PATH": "/nonexistent"]) }
        #expect(error == .toolNotFound(name: "ffmpeg", searched: ["/nonexistent"]))
        #expect(error?.description.contains("apt-get install ffmpeg") == true)
    }
}

/// The ffmpeg input options of each source (no ffmpeg needed).
struct VideoSourceTests {
    /// A camera is read through the platform's capture format, its size and rate passed on as asked; a file through
    /// `file:` (so a name with a colon is not a protocol), paced with `-re` when live.
    @Test func ffmpegInputArguments() {
        let camera = VideoSource.camera(device: VideoSource.defaultCamera, width: 640, height: 480, frameRate: 15)
        #expect(camera.inputArguments(realTime: false) == ["-f", VideoSource.captureFormat, "-framerate", "15.0",
                                                           "-video_size", "640x480", "-i", VideoSource.defaultCamera])
        #if os(macOS)
        #expect(VideoSource.camera(device: "0").inputArguments(realTime: false)
            == ["-f", "avfoundation", "-framerate", "30.0", "-i", "0"])
        #elseif os(Linux)
        #expect(VideoSource.camera(device: "/dev/video2").inputArguments(realTime: false)
            == ["-f", "v4l2", "-i", "/dev/video2"])
        #endif
        #expect(VideoSource.file("a:b.mp4").inputArguments(realTime: true) == ["-re", "-i", "file:a:b.mp4"])
    }
}
