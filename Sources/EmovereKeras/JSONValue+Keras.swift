import EmovereFiles
import EmovereNN

extension JSONValue {
    /// A Keras size pair such as `kernel_size` or `strides`: `[a, b]` or a single number for both.
    var pair: [Int]? {
        if let integer { return [integer, integer] }
        guard let values = array?.compactMap(\.integer), values.count == 2, array?.count == 2 else { return nil }
        return values
    }
}
