import Foundation

/// A tensor of the graph being built: its name and Emovere's per-example shape (`[H, W, C]` or
/// `[features]`). Images are held NCHW in the graph (`[N, C, H, W]`), as ONNX operators expect.
struct GraphValue {
    var name: String
    var shape: [Int]
}

/// Accumulates the nodes and initializers of an ONNX graph. Every node has one output, named like
/// the node (`"3.main.0.depthwise/Conv"`), so names are unique as long as layer paths are.
struct GraphBuilder {
    private(set) var graph = Onnx_GraphProto()

    /// Appends an `operation` node reading `inputs` and returns its output's name (`output`, by default
    /// the node's name).
    mutating func addNode(_ operation: String, name: String, inputs: [String],
                          attributes: [Onnx_AttributeProto] = [], output: String? = nil) -> String {
        var node = Onnx_NodeProto()
        node.opType = operation
        node.name = name
        node.input = inputs
        node.output = [output ?? name]
        node.attribute = attributes
        graph.node.append(node)
        return output ?? name
    }

    /// Appends a float32 constant of `shape` (row-major `values`) and returns its name.
    mutating func addInitializer(_ name: String, shape: [Int], values: [Float]) -> String {
        precondition(shape.reduce(1, *) == values.count, "initializer \(name): \(values.count) values for shape \(shape)")
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = shape.map(Int64.init)
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        // raw_data is little-endian, the byte order of every platform Swift runs Emovere on.
        tensor.rawData = values.withUnsafeBytes { Data($0) }
        graph.initializer.append(tensor)
        return name
    }

    /// Appends an int64 constant vector and returns its name.
    mutating func addInt64Initializer(_ name: String, values: [Int64]) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = [Int64(values.count)]
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        tensor.int64Data = values
        graph.initializer.append(tensor)
        return name
    }

    /// A float32 graph input or output description with `dimensions` (a string is a symbolic size).
    static func valueInfo(_ name: String, dimensions: [GraphDimension]) -> Onnx_ValueInfoProto {
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensorType.shape.dim = dimensions.map { dimension in
            var proto = Onnx_TensorShapeProto.Dimension()
            switch dimension {
            case let .fixed(size): proto.dimValue = Int64(size)
            case let .symbolic(name): proto.dimParam = name
            }
            return proto
        }
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = tensorType
        return info
    }
}

/// One dimension of a graph input or output.
enum GraphDimension {
    case fixed(Int)
    /// A size chosen at run time, such as the batch.
    case symbolic(String)
}

extension Onnx_AttributeProto {
    /// An integer attribute.
    init(_ name: String, int value: Int) {
        self.init()
        self.name = name
        type = .int
        i = Int64(value)
    }

    /// A list-of-integers attribute.
    init(_ name: String, ints values: [Int]) {
        self.init()
        self.name = name
        type = .ints
        ints = values.map(Int64.init)
    }

    /// A string attribute.
    init(_ name: String, string value: String) {
        self.init()
        self.name = name
        type = .string
        s = Data(value.utf8)
    }

    /// A float attribute.
    init(_ name: String, float value: Float) {
        self.init()
        self.name = name
        type = .float
        f = value
    }
}

extension GraphBuilder {
    /// `values` of a row-major tensor of `shape` with its axes reordered: axis `i` of the result is axis
    /// `permutation[i]` of the source (NumPy's `transpose`).
    static func permuted(_ values: [Float], shape: [Int], permutation: [Int]) -> [Float] {
        precondition(permutation.sorted() == Array(shape.indices), "permutation \(permutation) of a rank-\(shape.count) tensor")
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in shape.indices.dropLast().reversed() { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        let resultShape = permutation.map { shape[$0] }
        let resultStrides = permutation.map { strides[$0] }
        var result = [Float]()
        result.reserveCapacity(values.count)
        var index = [Int](repeating: 0, count: shape.count)
        for _ in 0..<values.count {
            result.append(values[zip(index, resultStrides).reduce(0) { $0 + $1.0 * $1.1 }])
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < resultShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}
