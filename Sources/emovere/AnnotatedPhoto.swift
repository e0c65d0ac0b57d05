import EmovereCore
import EmovereNN
import EmovereVision
import Foundation

/// Encoding and writing annotated photos.
enum AnnotatedPhoto {
    /// JPEG quality of annotated JPEG files.
    static let jpegQuality = 92

    /// The format named by `path`'s extension (`.png`, `.jpg`, `.jpeg`, any case), or nil.
    static func format(ofOutput path: String) -> ImageFormat? {
        switch (path as NSString).pathExtension.lowercased() {
        case "png": .png
        case "jpg", "jpeg": .jpeg
        default: nil
        }
    }

    /// Encodes `image` in the format of `path`'s extension (PNG when it has none of ours) and writes it
    /// atomically: to a temporary file beside `path`, then renamed over it.
    static func write(_ image: RGBImage, to path: String) throws {
        let bytes = format(ofOutput: path) == .jpeg ? try image.jpegData(quality: jpegQuality) : try image.pngData()
        try AtomicFile.write(bytes, to: path)
    }
}
