/// Convolution weights laid out for `Convolution.directForward` on one instruction set: the kernel's
/// `[KH*KW*C, F]` matrix cut into panels of `instructionSet.wideFilters` filters (then `lanes` filters, the last
/// padded with zeros), each panel stored row after row. A microkernel then reads its weights as one sequential
/// stream instead of rows `F` floats apart, which with `F` a power of two fall into a few cache sets and evict each
/// other.
public final class PackedKernel {
    /// The panels' width and the microkernels they are packed for.
    public let instructionSet: InstructionSet
    /// Rows of the kernel matrix: `KH * KW * C`.
    public let rows: Int
    /// Output channels.
    public let filters: Int
    /// The panels, first filter ascending.
    let panels: [Panel]
    /// Every panel's values, `rows * width` each, in panel order.
    let values: UnsafeMutablePointer<Float>

    /// Filters `first ..< first + valid` of the kernel, `width` floats per row (`wideFilters` or `lanes`), at `offset`.
    struct Panel {
        let first: Int
        let width: Int
        let valid: Int
        let offset: Int
    }

    /// Space for a kernel of `rows` x `filters` (values are set by `update(from:)`).
    public init(rows: Int, filters: Int, instructionSet: InstructionSet = .detected) {
        precondition(rows > 0 && filters > 0, "PackedKernel needs positive rows and filters")
        self.instructionSet = instructionSet
        self.rows = rows
        self.filters = filters
        let lanes = instructionSet.lanes
        let wide = instructionSet.wideFilters
        var panels: [Panel] = []
        var first = 0
        while first + wide <= filters {
            panels.append(Panel(first: first, width: wide, valid: wide, offset: rows * first))
            first += wide
        }
        while first < filters {
            panels.append(Panel(first: first, width: lanes, valid: min(lanes, filters - first), offset: rows * first))
            first += lanes
        }
        self.panels = panels
        let count = rows * first
        values = .allocate(capacity: count)
        values.initialize(repeating: 0, count: count)
    }

    /// `kernel` (`[KH, KW, C, F]` or any shape of `rows * filters` values, filters innermost) packed for
    /// `instructionSet`.
    public convenience init(_ kernel: Tensor, instructionSet: InstructionSet = .detected) {
        let filters = kernel.shape[kernel.shape.count - 1]
        self.init(rows: kernel.count / max(filters, 1), filters: filters, instructionSet: instructionSet)
        update(from: kernel)
    }

    deinit {
        values.deallocate()
    }

    /// Copies `kernel` (`rows * filters` values, filters innermost) into the panels.
    public func update(from kernel: Tensor) {
        precondition(kernel.count == rows * filters, "kernel \(kernel.shape) does not match \(rows) x \(filters)")
        let source = kernel.pointer
        for panel in panels {
            let target = values + panel.offset
            for row in 0..<rows {
                (target + row * panel.width).update(from: source + (row * filters + panel.first), count: panel.valid)
            }
        }
    }
}
