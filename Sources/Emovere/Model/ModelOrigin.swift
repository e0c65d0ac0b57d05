/// Where an imported model came from: the file it was converted from and what wrote that file.
public struct ModelOrigin: Sendable, Codable, Equatable {
    /// The source format, e.g. `"keras-hdf5"`.
    public var format: String
    /// The source file's name (without its folder).
    public var file: String
    /// What wrote the source file, e.g. `"Keras 2.0.5, tensorflow backend"`, when it says.
    public var producer: String?

    public init(format: String, file: String, producer: String? = nil) {
        self.format = format
        self.file = file
        self.producer = producer
    }
}
