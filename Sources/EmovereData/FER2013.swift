import Foundation

/// The FER2013 facial-expression dataset, read from either of its two distributed forms.
public enum FER2013 {
    /// The side length of FER2013 images.
    public static let imageSize = 48

    /// Loads `split` from `path`: a `.csv` file is read with `FER2013CSVLoader`, a directory with
    /// `ImageFolderLoader` (`path/<split folder>/<class>/*.png|jpg`).
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
        return try FER2013CSVLoader(imageSize: imageSize, strict: strict).load(path: path, split: split)
    }
}
