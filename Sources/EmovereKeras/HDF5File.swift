import CHDF5
import EmovereCore
import Foundation
import Synchronization

/// A read-only HDF5 file: string attributes and floating-point datasets by object path.
///
/// Calls into libhdf5 must hold `HDF5File.library` (some builds of the library are not thread-safe).
final class HDF5File {
    /// Serialises every use of libhdf5 in the process.
    static let library = Mutex(())
    /// The most values one dataset or string attribute may hold (guards allocations against damaged headers).
    static let maximumElements = 1 << 28

    let path: String
    private let file: hid_t

    /// Opens `path` read-only; the caller holds `library`.
    init(path: String) throws(KerasImportError) {
        self.path = path
        chdf5_silence_errors()
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path: path) }
        do {
            try FileContents.checkRegularFile(atPath: path)
        } catch {
            throw .unreadable(path: path, object: "the file", reason: error.reason)
        }
        let isHDF5 = chdf5_is_hdf5(path)
        guard isHDF5 >= 0 else { throw .unreadable(path: path, object: "the file", reason: Self.innermostError()) }
        guard isHDF5 > 0 else { throw .notHDF5(path: path) }
        let handle = H5Fopen(path, chdf5_read_only(), chdf5_default_properties())
        guard handle >= 0 else { throw .unreadable(path: path, object: "the file", reason: Self.innermostError()) }
        file = handle
    }

    deinit {
        H5Fclose(file)
    }

    /// True when the root group has a member (group or dataset) called `name`.
    func rootContains(_ name: String) -> Bool {
        H5Lexists(file, name, chdf5_default_properties()) > 0
    }

    /// The strings of attribute `name` on the object at `objectPath` (`"/"` for the root); a scalar attribute
    /// gives one string. Nil when the object has no such attribute.
    func strings(attribute name: String, of objectPath: String) throws(KerasImportError) -> [String]? {
        let object = "attribute '\(name)' of '\(objectPath)'"
        let exists = H5Aexists_by_name(file, objectPath, name, chdf5_default_properties())
        guard exists >= 0 else { throw unreadable(object) }
        guard exists > 0 else { return nil }
        let attribute = H5Aopen_by_name(file, objectPath, name, chdf5_default_properties(), chdf5_default_properties())
        guard attribute >= 0 else { throw unreadable(object) }
        defer { H5Aclose(attribute) }
        let type = H5Aget_type(attribute)
        guard type >= 0 else { throw unreadable(object) }
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING else {
            throw .unreadable(path: path, object: object, reason: "expected a string attribute, found \(Self.describe(H5Tget_class(type)))")
        }
        let count = try elementCount(ofSpace: H5Aget_space(attribute), object: object)
        if H5Tis_variable_str(type) > 0 {
            // A pointer per string: the same byte budget as the fixed-length strings below.
            let pointerBytes = MemoryLayout<UnsafeMutablePointer<CChar>?>.size
            guard count <= Self.maximumElements / pointerBytes else {
                throw .unreadable(path: path, object: object, reason: "\(count) strings (at most \(Self.maximumElements / pointerBytes) expected)")
            }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(attribute, type, &pointers) >= 0 else { throw unreadable(object) }
            defer { for pointer in pointers { H5free_memory(pointer) } }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = H5Tget_size(type)
        guard size > 0, count <= Self.maximumElements / size else {
            throw .unreadable(path: path, object: object, reason: "\(count) strings of \(size) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: count * size)
        guard H5Aread(attribute, type, &bytes) >= 0 else { throw unreadable(object) }
        return (0..<count).map { index in
            let field = bytes[(index * size)..<((index + 1) * size)]
            return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// An HDF5 type class in words, for messages (`integers`, `strings`, ...).
    static func describe(_ typeClass: H5T_class_t) -> String {
        switch typeClass {
        case H5T_INTEGER: "integers"
        case H5T_FLOAT: "floating-point values"
        case H5T_STRING: "strings"
        case H5T_COMPOUND: "compound records"
        case H5T_ENUM: "enumerated values"
        case H5T_ARRAY: "fixed-size arrays"
        case H5T_VLEN: "variable-length sequences"
        case H5T_REFERENCE: "object references"
        case H5T_OPAQUE: "opaque bytes"
        case H5T_BITFIELD: "bit fields"
        default: "HDF5 type class \(typeClass.rawValue)"
        }
    }

    /// The values of the floating-point dataset at `datasetPath` converted to `Float` (row-major). `checkShape` sees
    /// its shape before any value is read or allocated (a weight of a hostile file may claim 2^28 values).
    func floats(dataset datasetPath: String, checkShape: ([Int]) throws(KerasImportError) -> Void)
        throws(KerasImportError) -> [Float] {
        let object = "dataset '\(datasetPath)'"
        let dataset = H5Dopen2(file, datasetPath, chdf5_default_properties())
        guard dataset >= 0 else { throw unreadable(object) }
        defer { H5Dclose(dataset) }
        let type = H5Dget_type(dataset)
        guard type >= 0 else { throw unreadable(object) }
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_FLOAT else {
            throw .unreadable(path: path, object: object, reason: "expected floating-point values, found \(Self.describe(H5Tget_class(type)))")
        }
        let space = H5Dget_space(dataset)
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard space >= 0, (0...8).contains(rank) else {
            if space >= 0 { H5Sclose(space) }
            throw unreadable(object)
        }
        var dimensions = [hsize_t](repeating: 0, count: rank)
        let dimensionsRead = H5Sget_simple_extent_dims(space, &dimensions, nil)
        let count = try elementCount(ofSpace: space, object: object)
        guard dimensionsRead == rank else { throw unreadable(object) }
        // hsize_t is unsigned 64-bit: a size beyond Int (a file can claim one while the element count is 0) is refused.
        let shape = dimensions.compactMap { Int(exactly: $0) }
        guard shape.count == rank else { throw unreadable(object) }
        try checkShape(shape)
        var values = [Float](repeating: 0, count: count)
        guard H5Dread(dataset, chdf5_native_float(), chdf5_all_elements(), chdf5_all_elements(),
                      chdf5_default_properties(), &values) >= 0 else { throw unreadable(object) }
        return values
    }

    /// The number of elements of dataspace `space` (closed here), checked against `maximumElements`.
    private func elementCount(ofSpace space: hid_t, object: String) throws(KerasImportError) -> Int {
        guard space >= 0 else { throw unreadable(object) }
        defer { H5Sclose(space) }
        let count = H5Sget_simple_extent_npoints(space)
        guard count >= 0, count <= Self.maximumElements else {
            throw .unreadable(path: path, object: object, reason: "\(count) elements (at most \(Self.maximumElements) expected)")
        }
        return Int(count)
    }

    private func unreadable(_ object: String) -> KerasImportError {
        .unreadable(path: path, object: object, reason: Self.innermostError())
    }

    /// The innermost message on this thread's HDF5 error stack (empty when there is none).
    private static func innermostError() -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        chdf5_innermost_error(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
