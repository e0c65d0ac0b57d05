import EmovereFiles
import EmovereNN
import EmovereTensor

/// What a Keras layer must look like to stand in for one Emovere layer: its class and configuration values.
struct KerasLayerExpectation {
    /// One configuration value the Keras layer must have.
    struct Requirement {
        let key: String
        /// The expected value as people read it, e.g. `"[3, 3]"`.
        let expected: String
        let accepts: (JSONValue?) -> Bool
    }

    /// A Keras class that fits, with the configuration it needs.
    struct Form {
        let className: String
        let requirements: [Requirement]
    }

    /// How the expectation reads in an error, e.g. `"Conv2D(filters 8, kernel_size [3, 3], ...)"`.
    let summary: String
    let forms: [Form]

    private init(summary: String, forms: [Form]) {
        self.summary = summary
        self.forms = forms
    }

    private init(_ className: String, _ requirements: [Requirement]) {
        let values = requirements.filter { !$0.expected.isEmpty }.map { "\($0.key) \($0.expected)" }
        self.init(summary: "\(className)(\(values.joined(separator: ", ")))", forms: [Form(className: className, requirements: requirements)])
    }

    /// Nil when `layer` fits; otherwise what was found instead, e.g. `"filters 16"`.
    func mismatch(_ layer: KerasGraph.Layer) -> String? {
        guard let form = forms.first(where: { $0.className == layer.className }) else {
            return "a \(layer.className) layer"
        }
        let wrong = form.requirements.filter { !$0.accepts(layer.config[$0.key]) }
        guard !wrong.isEmpty else { return nil }
        return wrong.map { "\($0.key) \(layer.config[$0.key]?.description ?? "missing")" }.joined(separator: ", ")
    }

    /// The Keras layer that does what `layer` does, or nil for Emovere layers without a Keras counterpart here.
    init?(_ layer: any Layer) {
        switch layer {
        case let convolution as Conv2d:
            self.init("Conv2D", [
                .equal("filters", convolution.filters), .kernel("kernel_size", convolution.kernelSize),
                .kernel("strides", convolution.stride), .equal("padding", convolution.padding.rawValue),
                .equal("use_bias", convolution.usesBias),
            ] + Requirement.linearChannelsLast + [.absentOr("groups", 1)])
        case let separable as SeparableConv2d:
            self.init("SeparableConv2D", [
                .equal("filters", separable.pointwise.filters), .kernel("kernel_size", separable.depthwise.kernelSize),
                .kernel("strides", separable.depthwise.stride), .equal("padding", separable.depthwise.padding.rawValue),
                .absentOr("depth_multiplier", 1), .equal("use_bias", separable.pointwise.usesBias),
            ] + Requirement.linearChannelsLast)
        case is BatchNorm:
            self.init("BatchNormalization", [
                Requirement(key: "axis", expected: "-1") { value in
                    [.number(-1), .number(3), .array([.number(-1)]), .array([.number(3)])].contains(value ?? .number(-1))
                },
                .absentOr("center", true), .absentOr("scale", true),
            ])
        case is ReLU:
            self.init(summary: "Activation('relu') or ReLU()", forms: [
                Form(className: "Activation", requirements: [.equal("activation", "relu")]),
                Form(className: "ReLU", requirements: [
                    .absentOr("max_value", JSONValue.null), .absentOr("negative_slope", 0), .absentOr("threshold", 0),
                ]),
            ])
        case let pool as Pool2d:
            self.init(pool.reduction == .maximum ? "MaxPooling2D" : "AveragePooling2D", [
                .kernel("pool_size", pool.poolSize), .kernel("strides", pool.stride),
                .equal("padding", pool.padding.rawValue), .absentOr("data_format", "channels_last"),
            ])
        case is GlobalAveragePool2d:
            self.init("GlobalAveragePooling2D", [.absentOr("data_format", "channels_last"), .absentOr("keepdims", false)])
        default:
            return nil
        }
    }

    /// The softmax that ends a Keras classifier (Emovere applies it outside the network).
    static var softmax: KerasLayerExpectation {
        KerasLayerExpectation(summary: "Activation('softmax') or Softmax()", forms: [
            Form(className: "Activation", requirements: [.equal("activation", "softmax")]),
            Form(className: "Softmax", requirements: [.absentOr("axis", -1)]),
        ])
    }
}

extension KerasLayerExpectation.Requirement {
    static func equal(_ key: String, _ value: some JSONRepresentable) -> Self {
        Self(key: key, expected: value.json.description) { $0 == value.json }
    }

    /// Absent (Keras's default applies) or `value`; not listed in summaries.
    static func absentOr(_ key: String, _ value: some JSONRepresentable) -> Self {
        Self(key: key, expected: "") { $0 == nil || $0 == value.json }
    }

    /// A square window or stride, `[size, size]` (or one number).
    static func kernel(_ key: String, _ size: Int) -> Self {
        Self(key: key, expected: "[\(size), \(size)]") { $0?.pair == [size, size] }
    }

    /// A convolution with no activation of its own and no dilation, on channels-last tensors.
    static var linearChannelsLast: [Self] {
        [
            Self(key: "activation", expected: "'linear'") { $0 == nil || $0 == .string("linear") },
            Self(key: "dilation_rate", expected: "") { $0 == nil || $0?.pair == [1, 1] },
            .absentOr("data_format", "channels_last"),
        ]
    }
}

/// A Swift value as the JSON value Keras writes for it.
protocol JSONRepresentable {
    var json: JSONValue { get }
}

extension Int: JSONRepresentable {
    var json: JSONValue { .number(Double(self)) }
}

extension Bool: JSONRepresentable {
    var json: JSONValue { .bool(self) }
}

extension String: JSONRepresentable {
    var json: JSONValue { .string(self) }
}

extension JSONValue: JSONRepresentable {
    var json: JSONValue { self }
}
