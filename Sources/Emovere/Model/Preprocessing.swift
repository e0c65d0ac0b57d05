/// How a grayscale face becomes model input: `x * scale + offset` on 0-255 pixels of a
/// `inputSize` x `inputSize` crop. Stored in every model file, so the model that was trained with it
/// is always fed the same way (one source of truth, unlike the peers' scattered `preprocess_input`).
public struct Preprocessing: Sendable, Codable, Equatable, CustomStringConvertible {
    /// Side length of the square model input, in pixels.
    public var inputSize: Int
    /// Multiplier applied to 0-255 pixel values.
    public var scale: Float
    /// Added after scaling.
    public var offset: Float
    /// Extra border (fraction of the detected face box per side) included when cropping a face from a photo.
    public var faceMargin: Float

    public init(inputSize: Int = 48, scale: Float = 1 / 127.5, offset: Float = -1, faceMargin: Float = 0) {
        self.inputSize = inputSize
        self.scale = scale
        self.offset = offset
        self.faceMargin = faceMargin
    }

    /// mini-Xception's `x / 127.5 - 1` (face_classification's `preprocess_input(x, v2=True)`).
    public static func symmetric(inputSize: Int = 48) -> Preprocessing {
        Preprocessing(inputSize: inputSize)
    }

    /// Maps `count` pixel values (0-255, as floats) to model input in place.
    @inlinable
    public func apply(_ values: UnsafeMutablePointer<Float>, count: Int) {
        for index in 0..<count { values[index] = values[index] * scale + offset }
    }

    public var description: String {
        "\(inputSize)x\(inputSize) gray, x * \(scale) + \(offset)"
    }
}
