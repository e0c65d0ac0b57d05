/// A failure that ends `emovere explain` with its message and exit status 1.
struct ExplainFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
