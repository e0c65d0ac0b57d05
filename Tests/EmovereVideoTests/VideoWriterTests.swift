import EmovereTestSupport
import EmovereVideo
import EmovereVision
import Foundation
import Testing

@Suite(.enabled(if: FFmpegTools.isAvailable, TestVideos.ffmpegMissing))
struct VideoWriterTests {
    /// A frame whose colours depend on the frame index, so frames differ.
    static func frame(_ index: Int, width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y] = (UInt8((x * 4 + index * 5) % 256), UInt8((y * 4) % 256), UInt8((index * 20) % 256))
            }
        }
        return image
    }

    @Test func writtenVideoDecodesWithEveryFrame() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let path = videos.path("out.mp4")
        let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: "12")
        for index in 0..<20 { try writer.write(Self.frame(index, width: 64, height: 48)) }
        #expect(writer.framesWritten == 20)
        // Until finish() nothing exists under the destination's name.
        #expect(!FileManager.default.fileExists(atPath: path))
        try writer.finish()
        #expect(try videos.contents() == ["out.mp4"], "the temporary file should have been renamed")

        let info = try VideoInfo.probe(.file(path), tools: FFmpegTools.locate())
        #expect(info.width == 64 && info.height == 48 && info.frameRate == 12 && info.codec == "h264")
        #expect(info.frameCount == 20 && !info.hasAudio)
        let reader = try VideoReader(source: .file(path))
        var count = 0
        while let decoded = try reader.nextFrame() {
            // Lossy, but close to what was written (compare the mean of one channel).
            let original = Self.frame(count, width: 64, height: 48)
            let meanError = zip(decoded.pixels, original.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +) / decoded.pixels.count
            #expect(meanError < 12, "frame \(count): mean error \(meanError)")
            count += 1
        }
        #expect(count == 20)
    }

    /// The video decides the output's length: a shorter audio track is padded with silence (ffmpeg's `-shortest`
    /// alone ended the output with the audio and refused the frames after it), a longer one cut.
    @Test(arguments: [3, 1])
    func audioIsCopiedFromTheSource(audioSeconds: Int) throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let source = try videos.movingFace(name: "source.mp4", audio: true, audioSeconds: audioSeconds)
        let reader = try VideoReader(source: .file(source))
        let path = videos.path("with-audio.mp4")
        let writer = try VideoWriter(path: path, width: reader.info.width, height: reader.info.height,
                                     frameRate: reader.info.frameRateText, audioSource: .file(source))
        var frame = RGBImage(width: 0, height: 0, pixels: [])
        while try reader.read(into: &frame) { try writer.write(frame) }
        try writer.finish()
        let info = try VideoInfo.probe(.file(path), tools: FFmpegTools.locate())
        #expect(info.hasAudio)
        #expect(info.frameCount == 45)
    }

    /// A video on a web server is decoded and gives its sound as ffmpeg downloads it (each its own download).
    @Test func remoteFileGivesFramesAndSound() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let source = try videos.movingFace(name: "source.mp4", audio: true)
        let web = videos.path("web.mp4")  // as served on the web: the index first, readable without seeking
        try TestVideos.ffmpeg(["-i", source, "-c", "copy", "-movflags", "+faststart", web])
        let server = try LoopbackStreamServer(body: Array(try Data(contentsOf: URL(fileURLWithPath: web))))
        defer { server.stop() }
        let remote = VideoSource.remoteFile(url: "http://127.0.0.1:\(server.port)/web.mp4")
        let reader = try VideoReader(source: remote)
        let path = videos.path("with-audio.mp4")
        let writer = try VideoWriter(path: path, width: reader.info.width, height: reader.info.height,
                                     frameRate: reader.info.frameRateText, audioSource: remote)
        var frame = RGBImage(width: 0, height: 0, pixels: [])
        while try reader.read(into: &frame) { try writer.write(frame) }
        try writer.finish()
        let info = try VideoInfo.probe(.file(path), tools: FFmpegTools.locate())
        #expect(info.hasAudio && info.frameCount == 45 && reader.framesRead == 45)
    }

    /// A remote sound source whose download stalls part-way: the video is finished whole and the writer says the
    /// sound broke off.
    @Test func aStalledSoundDownloadIsReported() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let source = try videos.movingFace(name: "source.mp4", width: 32, height: 32, audio: true)
        let transport = videos.path("source.ts")
        try TestVideos.ffmpeg(["-i", source, "-c", "copy", "-f", "mpegts", transport])
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: transport)))
        let server = try LoopbackStreamServer(body: Array(bytes.prefix(bytes.count / 3)), stallsAfterBody: true)
        defer { server.stop() }
        let path = videos.path("out.mp4")
        let writer = try VideoWriter(path: path, width: 32, height: 32, frameRate: "15",
                                     audioSource: .remoteFile(url: "http://127.0.0.1:\(server.port)/a.ts", timeoutSeconds: 3))
        for index in 0..<45 { try writer.write(Self.frame(index, width: 32, height: 32)) }
        try writer.finish()
        #expect(writer.soundProblem?.contains("timed out") == true, "\(String(describing: writer.soundProblem))")
        let info = try VideoInfo.probe(.file(path), tools: FFmpegTools.locate())
        #expect(info.hasAudio && info.frameCount == 45)
    }

    @Test func sourceWithoutAudioGivesVideoOnly() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let source = try videos.movingFace(name: "silent.mp4")
        let path = videos.path("out.mp4")
        let writer = try VideoWriter(path: path, width: 32, height: 32, frameRate: "15", audioSource: .file(source))
        for index in 0..<5 { try writer.write(Self.frame(index, width: 32, height: 32)) }
        try writer.finish()
        let info = try VideoInfo.probe(.file(path), tools: FFmpegTools.locate())
        #expect(!info.hasAudio && info.frameCount == 5)
    }

    @Test func oddSizesArePaddedToEven() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let path = videos.path("odd.mp4")
        let writer = try VideoWriter(path: path, width: 63, height: 47, frameRate: "10")
        for index in 0..<3 { try writer.write(Self.frame(index, width: 63, height: 47)) }
        try writer.finish()
        let info = try VideoInfo.probe(.file(path), tools: FFmpegTools.locate())
        #expect(info.width == 64 && info.height == 48 && info.frameCount == 3)
    }

    @Test func cancelLeavesNothingBehind() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let path = videos.path("cancelled.mp4")
        let writer = try VideoWriter(path: path, width: 32, height: 32, frameRate: "10")
        for index in 0..<5 { try writer.write(Self.frame(index, width: 32, height: 32)) }
        writer.cancel()
        #expect(try videos.contents().isEmpty)
        #expect(throws: VideoError.self) { try writer.write(Self.frame(0, width: 32, height: 32)) }
    }

    @Test func abandonedWriterRemovesItsTemporaryFile() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        do {
            let writer = try VideoWriter(path: videos.path("abandoned.mp4"), width: 32, height: 32, frameRate: "10")
            for index in 0..<5 { try writer.write(Self.frame(index, width: 32, height: 32)) }
        }
        #expect(try videos.contents().isEmpty)
    }

    @Test func existingFileIsKeptWhenEncodingFails() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let path = videos.path("keep.mp4")
        try Data("previous result".utf8).write(to: URL(fileURLWithPath: path))
        // An unknown x264 preset makes ffmpeg fail as soon as it opens the encoder.
        let writer = try VideoWriter(path: path, width: 32, height: 32, frameRate: "10",
                                     settings: .init(preset: "no-such-preset"))
        let error = try #require(throws: VideoError.self) {
            for index in 0..<200 { try writer.write(Self.frame(index, width: 32, height: 32)) }
            try writer.finish()
        }
        guard case .encodingFailed(let named, _, let details) = error else {
            Issue.record("expected encodingFailed, got \(error)")
            return
        }
        #expect(named == path)
        #expect(details.contains("no-such-preset") || details.lowercased().contains("preset"), "\(error)")
        #expect(try videos.contents() == ["keep.mp4"])
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "previous result")
    }

    @Test func finishWithoutFramesFailsAndLeavesNothing() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        let writer = try VideoWriter(path: videos.path("empty.mp4"), width: 32, height: 32, frameRate: "10")
        let error = try #require(throws: VideoError.self) { try writer.finish() }
        #expect(error.description.contains("no frames"), "\(error)")
        #expect(try videos.contents().isEmpty)
    }

    @Test func badArgumentsAreRejected() throws {
        let videos = try TestVideos()
        defer { videos.remove() }
        #expect(throws: VideoError.invalidArgument(name: "frame size", expected: "a positive width and height", found: "0x10")) {
            try VideoWriter(path: videos.path("a.mp4"), width: 0, height: 10, frameRate: "10")
        }
        let rate = #expect(throws: VideoError.self) {
            try VideoWriter(path: videos.path("a.mp4"), width: 10, height: 10, frameRate: "fast")
        }
        #expect(rate?.description.contains("fast") == true)
        // A missing folder is created; a file where the folder should be is an error naming it.
        let nested = videos.path("new/folder/a.mp4")
        let nestedWriter = try VideoWriter(path: nested, width: 10, height: 10, frameRate: "10")
        try nestedWriter.write(Self.frame(0, width: 10, height: 10))
        try nestedWriter.finish()
        #expect(FileManager.default.fileExists(atPath: nested))
        let file = videos.path("file.txt")
        try Data("a file".utf8).write(to: URL(fileURLWithPath: file))
        let folder = #expect(throws: VideoError.self) {
            try VideoWriter(path: file + "/a.mp4", width: 10, height: 10, frameRate: "10")
        }
        #expect(folder?.description.contains("creating folder \(file)") == true, "\(String(describing: folder))")
        // A container ffmpeg could not put H.264 in is refused before a frame is encoded.
        let container = #expect(throws: VideoError.self) {
            try VideoWriter(path: videos.path("a.txt"), width: 10, height: 10, frameRate: "10")
        }
        #expect(container?.description.contains(".mp4, .mov, .m4v, .mkv, .avi, .ts") == true, "\(String(describing: container))")
        for name in ["c.MKV", "d"] {
            try VideoWriter(path: videos.path(name), width: 10, height: 10, frameRate: "10").cancel()
        }
        let writer = try VideoWriter(path: videos.path("b.mp4"), width: 10, height: 10, frameRate: "10")
        #expect(throws: VideoError.frameSizeMismatch(expectedWidth: 10, expectedHeight: 10, foundWidth: 12, foundHeight: 10)) {
            try writer.write(RGBImage(width: 12, height: 10))
        }
        writer.cancel()
    }
}
