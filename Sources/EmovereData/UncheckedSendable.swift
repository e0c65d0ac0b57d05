/// Carries a value (typically a raw pointer into memory whose disjoint parts are written by
/// different iterations) into a `DispatchQueue.concurrentPerform` closure.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
