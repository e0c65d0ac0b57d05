/// A value that is not `Sendable` by its type but is safe to hand to the `@Sendable` closures of `Parallel` or
/// Dispatch by construction: a raw pointer into a buffer whose disjoint ranges each worker touches alone, or an
/// object each worker uses alone (one recognizer per worker).
public struct UnsafeSendable<Value>: @unchecked Sendable {
    public let value: Value

    @inlinable
    public init(_ value: Value) {
        self.value = value
    }
}
