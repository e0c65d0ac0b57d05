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

    /// What makes the scale, offset or face margin unusable, or nil (model cards and training recipes are checked
    /// alike). A pixel's 0-255 becomes the network's input: a zero scale loses it, and large factors are damage (a card
    /// scale of 3e38 made every input infinite and every probability NaN).
    public var problem: String? {
        if !(scale != 0 && abs(scale) <= 10) || !(abs(offset) <= 1000) {
            return "preprocessing scale \(scale) and offset \(offset); expected a non-zero scale of at most 10 and an "
                + "offset of at most 1000 in magnitude"
        }
        if !(0...1).contains(faceMargin) {
            return "preprocessing.faceMargin is \(faceMargin); expected a fraction of the face box, 0...1"
        }
        return nil
    }
}
