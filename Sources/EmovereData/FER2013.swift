import Foundation

/// The FER2013 facial-expression dataset, read from either of its two distributed forms.
public enum FER2013 {
    /// The side length of FER2013 images.
    public static let imageSize = 48

    /// Loads `split` from `path` as `imageSize` x `imageSize` images: a `.csv` file is read with
    /// `FER2013CSVLoader` (rows of 48 x 48 pixels, resized when `imageSize` differs), a directory with
    /// `ImageFolderLoader` (`path/<split folder>/<class>/*.png|jpg`, each image resized as needed).
    ///
    /// Malformed rows or files are skipped and listed in the report, or thrown when `strict`.
    public static func load(path: String, split: Split, strict: Bool = false,
                            imageSize: Int = FER2013.imageSize) throws(DataError) -> (FaceDataset, LoadReport) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .pathNotFound(path: path)
        }
        if isDirectory.boolValue {
            return try ImageFolderLoader(imageSize: imageSize, strict: strict).load(root: path, split: split)
        }
        guard path.lowercased().hasSuffix(".csv") else {
            throw .unsupportedPath(path: path, reason: "expected a .csv file (fer2013.csv) or a folder with "
                                   + "train/ and test/ class folders, found a file of another kind")
        }
        guard imageSize > 0 else {
            throw .invalidArgument(name: "image size", expected: "a positive number of pixels", found: "\(imageSize)")
        }
        var (dataset, report) = try FER2013CSVLoader(imageSize: Self.imageSize, strict: strict).load(path: path, split: split)
        if imageSize != Self.imageSize {
            dataset = dataset.resized(to: imageSize)
            report.notes.append("rows of \(Self.imageSize)x\(Self.imageSize) pixels resized to \(imageSize)x\(imageSize)")
        }
        return (dataset, report)
    }
}
