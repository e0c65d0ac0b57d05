/// A dense float32 tensor in row-major order; images are NHWC (`[batch, height, width, channels]`).
///
/// `Tensor` is a reference type that owns one aligned allocation, so layers can keep their
/// activation and gradient buffers across steps and kernels can work on raw pointers (as in llm.c).
/// Two tensors never share storage.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// The extent of each dimension, outermost first.
    public let shape: [Int]
    /// The number of elements, `shape.reduce(1, *)`.
    public let count: Int
    /// The first element; valid for `count` elements until the tensor is released.
    public let pointer: UnsafeMutablePointer<Float>

    /// A zero-filled tensor of `shape`.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape must be non-negative, received \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// A tensor of `shape` holding `values` (`values.count` must equal the shape's element count).
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor of shape \(shape) needs \(count) values, received \(values.count)")
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: count) }
        }
    }

    /// A tensor of `shape` filled with `value`.
    public convenience init(shape: [Int], repeating value: Float) {
        self.init(shape: shape)
        pointer.update(repeating: value, count: count)
    }

    deinit {
        pointer.deallocate()
    }

    /// A copy of the elements as an array.
    public var values: [Float] {
        Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// The mutable elements.
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    /// Element `index` of the flattened tensor.
    public subscript(index: Int) -> Float {
        get {
            precondition(index >= 0 && index < count, "Tensor index \(index) out of range 0..<\(count)")
            return pointer[index]
        }
        set {
            precondition(index >= 0 && index < count, "Tensor index \(index) out of range 0..<\(count)")
            pointer[index] = newValue
        }
    }

    /// Sets every element to zero.
    public func zero() {
        pointer.update(repeating: 0, count: count)
    }

    /// Copies the elements of `other`, which must have the same element count.
    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy(from:) expects \(count) elements, received \(other.count)")
        pointer.update(from: other.pointer, count: count)
    }

    /// A new tensor with the same elements.
    public func copy() -> Tensor {
        let result = Tensor(shape: shape)
        result.copy(from: self)
        return result
    }

    /// `existing` if it already has `shape`, otherwise a new zero-filled tensor of that shape.
    /// Layers use this to keep one buffer per batch size instead of allocating every step.
    public static func reusing(_ existing: Tensor?, shape: [Int]) -> Tensor {
        if let existing, existing.shape == shape { return existing }
        return Tensor(shape: shape)
    }

    public var description: String {
        "Tensor\(shape)"
    }
}
