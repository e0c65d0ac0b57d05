/// A raw pointer that may be captured by the `@Sendable` closures of `Parallel`: each worker
/// touches a disjoint range, which is what makes this safe.
public struct UnsafeSendable<Pointee>: @unchecked Sendable {
    public let value: UnsafeMutablePointer<Pointee>

    @inlinable
    public init(_ value: UnsafeMutablePointer<Pointee>) {
        self.value = value
    }
}
