import Foundation
import Testing

@testable import EmovereFiles
import EmovereCore

/// Builds safetensors bytes by hand: the length prefix, `header` (optionally padded), then `data`.
private func handMade(header: String, data: [UInt8] = [], padded: Bool = true) -> [UInt8] {
    var headerBytes = Array(header.utf8)
    while padded, headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { bytes.append(contentsOf: $0) }
    return bytes + headerBytes + data
}

/// A fresh, empty directory under the system temporary directory.
private func makeTemporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct SafeTensorsTests {
    // MARK: Writing

    @Test func serializedBytesMatchHandConstructedFile() throws {
        let file = SafeTensorsFile(
            tensors: [
                "b": try NamedArray(shape: [], values: [0.5]),
                "a": try NamedArray(shape: [2], values: [1.0, -2.0]),
            ],
            metadata: ["format": "pt"])

        let header = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}"#
        #expect(header.utf8.count == 138)
        var expected: [UInt8] = [0x90, 0, 0, 0, 0, 0, 0, 0]  // 144 = 138 + 6 spaces of padding
        expected += Array(header.utf8)
        expected += [0x20, 0x20, 0x20, 0x20, 0x20, 0x20]
        expected += [0x00, 0x00, 0x80, 0x3F]  // 1.0
        expected += [0x00, 0x00, 0x00, 0xC0]  // -2.0
        expected += [0x00, 0x00, 0x00, 0x3F]  // 0.5

        let bytes = try file.serialized()
        #expect(bytes == expected)
        #expect(try SafeTensorsFile(bytes: expected) == file)
    }

    @Test func emptyFileIsAPaddedEmptyObject() throws {
        let bytes = try SafeTensorsFile().serialized()
        #expect(bytes == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        let parsed = try SafeTensorsFile(bytes: bytes)
        #expect(parsed.tensors.isEmpty && parsed.metadata.isEmpty)
    }

    @Test func serializationIsDeterministicAndAligned() throws {
        var first = SafeTensorsFile()
        var second = SafeTensorsFile()
        let names = ["conv1.weight", "conv1.bias", "fc.weight", "bn.running_mean", "z", "a"]
        for (index, name) in names.enumerated() {
            first.tensors[name] = try NamedArray(shape: [index + 1], values: (0...index).map(Float.init))
        }
        for (index, name) in names.enumerated().reversed() {
            second.tensors[name] = try NamedArray(shape: [index + 1], values: (0...index).map(Float.init))
        }
        first.metadata = ["b": "2", "a": "1"]
        second.metadata = ["a": "1", "b": "2"]
        let bytes = try first.serialized()
        #expect(bytes == (try second.serialized()))
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        #expect(headerLength % 8 == 0)
    }

    @Test func roundTripKeepsShapesValuesAndMetadata() throws {
        let original = SafeTensorsFile(
            tensors: [
                "conv.weight": try NamedArray(shape: [2, 1, 3, 3], values: (0..<18).map { Float($0) * 0.25 - 2 }),
                "conv.bias": try NamedArray(shape: [2], values: [.infinity, -.leastNonzeroMagnitude]),
                "scalar": try NamedArray(shape: [], values: [42]),
                "empty": try NamedArray(shape: [0, 4], values: []),
                "name with \"quotes\", \\ and \n é": try NamedArray(shape: [1], values: [-0.0]),
            ],
            metadata: [
                "classes": "angry,disgust,fear,happy,sad,surprise,neutral",
                "note": "tab\there \"quoted\" \u{01} ünïcode",
                "": "empty key",
            ])
        let parsed = try SafeTensorsFile(bytes: try original.serialized())
        #expect(parsed == original)
        #expect(parsed.tensors["conv.weight"]?.shape == [2, 1, 3, 3])
        #expect(parsed.tensors["scalar"]?.elementCount == 1)
        #expect(parsed.tensors["empty"]?.values == [])
        #expect(parsed.tensors["name with \"quotes\", \\ and \n é"]?.values[0].sign == .minus)
    }

    @Test func metadataOnlyRoundTrip() throws {
        let original = SafeTensorsFile(metadata: ["architecture": "ResNet-ish", "epochs": "30"])
        let parsed = try SafeTensorsFile(bytes: try original.serialized())
        #expect(parsed.metadata == ["architecture": "ResNet-ish", "epochs": "30"])
        #expect(parsed.tensors.isEmpty)
    }

    @Test func reservedOrEmptyTensorNamesAreRejected() throws {
        let array = try NamedArray(shape: [1], values: [1])
        #expect(throws: SafeTensorsError.invalidTensorName(name: "__metadata__")) {
            try SafeTensorsFile(tensors: ["__metadata__": array]).serialized()
        }
        #expect(throws: SafeTensorsError.invalidTensorName(name: "")) {
            try SafeTensorsFile(tensors: ["": array]).serialized()
        }
    }

    @Test func namedArrayChecksItsShape() throws {
        #expect(throws: SafeTensorsError.valueCountMismatch(shape: [2, 3], expectedCount: 6, foundCount: 5)) {
            try NamedArray(shape: [2, 3], values: [1, 2, 3, 4, 5])
        }
        #expect(throws: SafeTensorsError.invalidShape(source: "<memory>", tensor: "<unnamed>", shape: [-1])) {
            try NamedArray(shape: [-1], values: [])
        }
        #expect(throws: SafeTensorsError.self) {
            try NamedArray(shape: [Int.max, 2], values: [])
        }
        #expect(try NamedArray(shape: [], values: [3]).elementCount == 1)
    }

    // MARK: Reading other dtypes

    @Test func readsHalfBrainAndDoublePrecision() throws {
        let header = #"{"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"h":{"dtype":"F16","shape":[2,3],"data_offsets":[16,28]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[28,32]}}"#
        var data: [UInt8] = []
        data += [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]  // F64 1.0
        data += [0, 0, 0, 0, 0, 0, 0x04, 0xC0]  // F64 -2.5
        data += [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38]  // F16 1.0, -2.0, 0.5
        data += [0xFF, 0x7B, 0x01, 0x00, 0x00, 0x7C]  // F16 65504, 2^-24 (subnormal), +infinity
        data += [0x80, 0x3F, 0x40, 0xC0]  // BF16 1.0, -3.0
        let file = try SafeTensorsFile(bytes: handMade(header: header, data: data))
        #expect(file.tensors["d"]?.values == [1.0, -2.5])
        #expect(file.tensors["h"]?.shape == [2, 3])
        #expect(file.tensors["h"]?.values == [1.0, -2.0, 0.5, 65504, 0x1p-24, .infinity])
        #expect(file.tensors["b"]?.values == [1.0, -3.0])
    }

    @Test func halfPrecisionSpecialValues() {
        #expect(SafeTensorsHalfPrecision.float(fromBinary16: 0x0000) == 0)
        #expect(SafeTensorsHalfPrecision.float(fromBinary16: 0x8000).sign == .minus)
        #expect(SafeTensorsHalfPrecision.float(fromBinary16: 0x03FF) == Float(0x3FF) * 0x1p-24)  // largest subnormal
        #expect(SafeTensorsHalfPrecision.float(fromBinary16: 0x0400) == 0x1p-14)  // smallest normal
        #expect(SafeTensorsHalfPrecision.float(fromBinary16: 0xFC00) == -.infinity)
        #expect(SafeTensorsHalfPrecision.float(fromBinary16: 0x7E00).isNaN)
        #expect(SafeTensorsHalfPrecision.float(fromBinary16: 0x3555) == 0x1.554p-2)
    }

    @Test func acceptsUnpaddedHeaderAndIgnoresUnknownFields() throws {
        let header = #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":true}}"#
        let file = try SafeTensorsFile(bytes: handMade(header: header, data: [0, 0, 0x80, 0x3F], padded: false))
        #expect(file.tensors["x"]?.values == [1])
    }

    // MARK: Corrupt input

    @Test func fileShorterThanPrefix() {
        #expect(throws: SafeTensorsError.fileTooShort(source: "tiny.safetensors", byteCount: 3)) {
            try SafeTensorsFile(bytes: [1, 2, 3], source: "tiny.safetensors")
        }
    }

    @Test func headerLengthLargerThanFile() {
        let bytes: [UInt8] = [100, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)
        #expect(throws: SafeTensorsError.headerLengthExceedsFile(source: "f", headerLength: 100, availableBytes: 2)) {
            try SafeTensorsFile(bytes: bytes, source: "f")
        }
        let huge: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: SafeTensorsError.headerLengthExceedsFile(source: "f", headerLength: .max, availableBytes: 0)) {
            try SafeTensorsFile(bytes: huge, source: "f")
        }
        // A JPEG given as a model reads as a huge header length: the message says what the file is not.
        #expect(SafeTensorsError.headerLengthExceedsFile(source: "photo.jpg", headerLength: 100, availableBytes: 2).description
                == "photo.jpg: not a safetensors file, or a truncated one: its first 8 bytes give a header length of 100, but only 2 bytes follow them")
    }

    @Test func headerThatIsNotJSON() {
        for header in ["{\"a\": ", "not json", "", "\u{FF}"] {
            #expect {
                try SafeTensorsFile(bytes: handMade(header: header), source: "bad.safetensors")
            } throws: { error in
                guard case let .invalidHeader(source, _) = error as? SafeTensorsError else { return false }
                return source == "bad.safetensors"
            }
        }
        var invalidUTF8 = handMade(header: "{\"a\":1}")
        invalidUTF8[10] = 0xFF
        #expect(throws: SafeTensorsError.invalidHeader(source: "u", reason: "expected UTF-8 JSON, found invalid UTF-8")) {
            try SafeTensorsFile(bytes: invalidUTF8, source: "u")
        }
    }

    @Test func headerThatIsNotAnObject() {
        #expect(throws: SafeTensorsError.invalidHeader(source: "f", reason: "expected a JSON object at the top level, found an array of 2 ([1, 2])")) {
            try SafeTensorsFile(bytes: handMade(header: "[1,2]"), source: "f")
        }
    }

    @Test(arguments: ["dtype", "shape", "data_offsets"])
    func missingField(_ field: String) {
        var fields = [#""dtype":"F32""#, #""shape":[1]"#, #""data_offsets":[0,4]"#]
        fields.removeAll { $0.hasPrefix("\"\(field)\"") }
        let header = "{\"w\":{\(fields.joined(separator: ","))}}"
        #expect(throws: SafeTensorsError.missingField(source: "m.safetensors", tensor: "w", field: field)) {
            try SafeTensorsFile(bytes: handMade(header: header, data: [0, 0, 0, 0]), source: "m.safetensors")
        }
    }

    @Test func malformedFields() {
        let cases: [(String, SafeTensorsError)] = [
            (#"{"w":[1]}"#,
             .invalidField(source: "f", tensor: "w", field: "w", expected: "an object with dtype, shape and data_offsets", found: "an array of 1 ([1])")),
            (#"{"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}"#,
             .invalidField(source: "f", tensor: "w", field: "dtype", expected: "a string", found: "an integer (32)")),
            (#"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#,
             .invalidField(source: "f", tensor: "w", field: "shape", expected: "an array of integers", found: "an array of 1 ([true])")),
            (#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,
             .invalidField(source: "f", tensor: "w", field: "shape", expected: "an array of integers", found: "an array of 1 ([1.5])")),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}"#,
             .invalidField(source: "f", tensor: "w", field: "data_offsets", expected: "an array of two integers [begin, end]", found: "an array of 1 ([4])")),
            (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
             .invalidShape(source: "f", tensor: "w", shape: [-1])),
            (#"{"__metadata__":{"epochs":30},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
             .invalidField(source: "f", tensor: "__metadata__", field: "epochs", expected: "a string value", found: "an integer (30)")),
            (#"{"__metadata__":"x","w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
             .invalidField(source: "f", tensor: "__metadata__", field: "__metadata__", expected: "an object of strings", found: "a string (\"x\")")),
        ]
        for (header, expected) in cases {
            #expect(throws: expected) {
                try SafeTensorsFile(bytes: handMade(header: header, data: [0, 0, 0, 0]), source: "f")
            }
        }
    }

    @Test(arguments: ["I32", "U8", "BOOL", "F8_E4M3", "Q4"])
    func unsupportedDataType(_ dtype: String) {
        let header = "{\"w\":{\"dtype\":\"\(dtype)\",\"shape\":[1],\"data_offsets\":[0,4]}}"
        #expect(throws: SafeTensorsError.unsupportedDataType(source: "f", tensor: "w", dataType: dtype)) {
            try SafeTensorsFile(bytes: handMade(header: header, data: [0, 0, 0, 0]), source: "f")
        }
    }

    @Test func offsetsOutOfRange() {
        let pastEnd = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(throws: SafeTensorsError.offsetsOutOfRange(source: "f", tensor: "w", begin: 0, end: 8, dataSectionSize: 4)) {
            try SafeTensorsFile(bytes: handMade(header: pastEnd, data: [0, 0, 0, 0]), source: "f")
        }
        let reversed = #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#
        #expect(throws: SafeTensorsError.offsetsOutOfRange(source: "f", tensor: "w", begin: 4, end: 0, dataSectionSize: 4)) {
            try SafeTensorsFile(bytes: handMade(header: reversed, data: [0, 0, 0, 0]), source: "f")
        }
        let negative = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#
        #expect(throws: SafeTensorsError.offsetsOutOfRange(source: "f", tensor: "w", begin: -4, end: 0, dataSectionSize: 4)) {
            try SafeTensorsFile(bytes: handMade(header: negative, data: [0, 0, 0, 0]), source: "f")
        }
    }

    @Test func offsetsNotMatchingShapeAndDataType() {
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        #expect(throws: SafeTensorsError.byteCountMismatch(source: "f", tensor: "w", expectedBytes: 12, foundBytes: 8)) {
            try SafeTensorsFile(bytes: handMade(header: header, data: Array(repeating: 0, count: 8)), source: "f")
        }
        let half = #"{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,4]}}"#
        #expect(throws: SafeTensorsError.byteCountMismatch(source: "f", tensor: "w", expectedBytes: 8, foundBytes: 4)) {
            try SafeTensorsFile(bytes: handMade(header: half, data: Array(repeating: 0, count: 4)), source: "f")
        }
    }

    @Test func overlappingTensors() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        #expect(throws: SafeTensorsError.overlappingTensors(source: "f", first: "a", second: "b")) {
            try SafeTensorsFile(bytes: handMade(header: header, data: Array(repeating: 0, count: 12)), source: "f")
        }
        let same = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(throws: SafeTensorsError.overlappingTensors(source: "f", first: "a", second: "b")) {
            try SafeTensorsFile(bytes: handMade(header: same, data: Array(repeating: 0, count: 4)), source: "f")
        }
    }

    @Test func gapBetweenTensors() {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        #expect(throws: SafeTensorsError.unreferencedBytes(source: "f", begin: 4, end: 8)) {
            try SafeTensorsFile(bytes: handMade(header: header, data: Array(repeating: 0, count: 12)), source: "f")
        }
    }

    @Test func trailingGarbage() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(throws: SafeTensorsError.trailingBytes(source: "f", expectedDataSectionSize: 8, foundDataSectionSize: 11)) {
            try SafeTensorsFile(bytes: handMade(header: header, data: Array(repeating: 0, count: 11)), source: "f")
        }
        var bytes = try SafeTensorsFile(tensors: ["a": try NamedArray(shape: [1], values: [1])]).serialized()
        bytes.append(0)
        #expect(throws: SafeTensorsError.trailingBytes(source: "f", expectedDataSectionSize: 4, foundDataSectionSize: 5)) {
            try SafeTensorsFile(bytes: bytes, source: "f")
        }
    }

    @Test func zeroSizedTensorsMayShareAnOffset() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"f":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]}}"#
        let file = try SafeTensorsFile(bytes: handMade(header: header, data: [0, 0, 0x80, 0x3F]))
        #expect(file.tensors.count == 3)
        #expect(file.tensors["f"]?.shape == [2, 0])
    }

    @Test func messagesNameTheFileAndWhatWasExpected() {
        let message = SafeTensorsError.byteCountMismatch(source: "model.safetensors", tensor: "fc.weight", expectedBytes: 12, foundBytes: 8).description
        #expect(message.contains("model.safetensors"))
        #expect(message.contains("fc.weight"))
        #expect(message.contains("12") && message.contains("8"))
        let missing = SafeTensorsError.missingTensor(source: "m", name: "x", available: ["a", "b"]).description
        #expect(missing == "m: no tensor named 'x'; found: [a, b]")
    }

    @Test func tensorLookupByName() throws {
        let file = SafeTensorsFile(tensors: ["a": try NamedArray(shape: [1], values: [2])], source: "w.safetensors")
        #expect(try file.tensor(named: "a").values == [2])
        #expect(throws: SafeTensorsError.missingTensor(source: "w.safetensors", name: "b", available: ["a"])) {
            try file.tensor(named: "b")
        }
    }

    // MARK: Files

    @Test func writesAtomicallyAndReadsBack() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.safetensors"

        let first = SafeTensorsFile(tensors: ["w": try NamedArray(shape: [2], values: [1, 2])], metadata: ["v": "1"])
        try first.write(to: path)
        let second = SafeTensorsFile(tensors: ["w": try NamedArray(shape: [3], values: [3, 4, 5])], metadata: ["v": "2"])
        try second.write(to: path)  // replaces the existing file

        let loaded = try SafeTensorsFile(contentsOf: path)
        #expect(loaded == second)
        #expect(loaded.source == path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model.safetensors"])
        let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(onDisk == (try second.serialized()))
    }

    @Test func fileErrorsNameThePath() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let missing = directory + "/absent.safetensors"
        #expect {
            try SafeTensorsFile(contentsOf: missing)
        } throws: { error in
            guard case let .readFailed(path, reason) = error as? SafeTensorsError else { return false }
            return path == missing && reason.contains("No such file")
        }

        // Below a file, where no folder can be made (missing folders are created).
        try Data("a file".utf8).write(to: URL(fileURLWithPath: directory + "/file"))
        let unwritable = directory + "/file/out.safetensors"
        #expect {
            try SafeTensorsFile().write(to: unwritable)
        } throws: { error in
            guard case let .writeFailed(path, _, _) = error as? SafeTensorsError else { return false }
            return path == unwritable && String(describing: error).contains(unwritable)
        }

        let corrupt = directory + "/corrupt.safetensors"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: corrupt))
        #expect(throws: SafeTensorsError.fileTooShort(source: corrupt, byteCount: 3)) {
            try SafeTensorsFile(contentsOf: corrupt)
        }
    }
}
