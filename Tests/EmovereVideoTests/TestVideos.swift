import EmovereVideo
import Foundation
import Testing

/// Short videos generated with ffmpeg for the tests, in a scratch folder removed by `remove()`.
struct TestVideos {
    /// The reason the ffmpeg-dependent suites are skipped on a machine without it.
    static let ffmpegMissing: Comment = "ffmpeg is not installed (apt-get install ffmpeg; scripts/test.sh installs it)"

    /// The repository's bundled sample photo.
    static let samplePhoto = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("samples/astronaut.jpg").path

    let folder: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-video-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    func remove() {
        do {
            try FileManager.default.removeItem(atPath: folder)
        } catch {
            Issue.record("could not remove \(folder): \(error)")
        }
    }

    /// `folder/name`.
    func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }

    /// The files in the folder, hidden ones included.
    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    }

    /// Runs ffmpeg with `arguments` and fails the test with its messages when it fails.
    static func ffmpeg(_ arguments: [String]) throws {
        let tools = try FFmpegTools.locate()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tools.ffmpeg)
        process.arguments = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let messages = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0,
                     "ffmpeg \(arguments.joined(separator: " ")) failed: \(String(decoding: messages, as: UTF8.self))")
    }

    /// A `seconds`-long video of the sample photo (scaled to 220x220) sliding right by 30 px/s over a
    /// blue-grey `width` x `height` background, H.264 in MP4, optionally with a 440 Hz tone (`audioSeconds` long:
    /// the video's length unless given).
    func movingFace(name: String = "moving.mp4", width: Int = 320, height: Int = 240, frameRate: Int = 15,
                    seconds: Int = 3, audio: Bool = false, audioSeconds: Int? = nil) throws -> String {
        let output = path(name)
        var arguments = ["-f", "lavfi", "-i", "color=c=0x506070:s=\(width)x\(height):r=\(frameRate):d=\(seconds)",
                         "-i", Self.samplePhoto]
        if audio { arguments += ["-f", "lavfi", "-i", "sine=frequency=440:duration=\(audioSeconds ?? seconds)"] }
        arguments += ["-filter_complex", "[1:v]scale=220:220[photo];[0:v][photo]overlay=x='10+30*t':y=10,format=yuv420p[video]",
                      "-map", "[video]"]
        if audio { arguments += ["-map", "2:a", "-c:a", "aac"] }
        arguments += ["-frames:v", String(frameRate * seconds), "-c:v", "libx264", "-preset", "ultrafast", output]
        try Self.ffmpeg(arguments)
        return output
    }
}
