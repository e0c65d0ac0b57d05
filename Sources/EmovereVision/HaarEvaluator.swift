/// A cascade compiled for one integral-image row pitch: every feature rectangle is turned into four offsets into
/// the summed-area table, relative to a window's top-left entry, exactly like OpenCV's `HaarEvaluator::OptFeature`.
///
/// Arithmetic mirrors OpenCV 4 `cascadedetect.{hpp,cpp}` so that accept/reject decisions are identical:
/// - rectangle sums are 32-bit integer corner differences;
/// - a feature is `w0 * Float(s0) + w1 * Float(s1)` (`+ w2 * Float(s2)` when `w2 != 0`) in single precision,
///   then multiplied by the window's single-precision variance normalisation factor;
/// - the normalisation uses the window shrunk by one pixel on each side; `nf = area * sqsum - sum^2` in double,
///   `factor = Float(1 / sqrt(nf))`, and the window is skipped unless `nf > 0` and `area * factor < 0.1`;
/// - leaf values are accumulated in double and compared with the single-precision stage threshold.
struct HaarEvaluator: Sendable {
    /// Corner offsets and weights of one feature.
    struct CompiledFeature: Sendable {
        var a0: Int, b0: Int, c0: Int, d0: Int
        var a1: Int, b1: Int, c1: Int, d1: Int
        var a2: Int, b2: Int, c2: Int, d2: Int
        var weight0: Float, weight1: Float, weight2: Float
    }

    /// A decision stump with its feature inlined.
    struct CompiledStump: Sendable {
        var feature: CompiledFeature
        var threshold: Float
        var left: Float
        var right: Float
    }

    /// A split node of a tree with its feature inlined; children as in ``HaarCascade/Node``.
    struct CompiledNode: Sendable {
        var feature: CompiledFeature
        var threshold: Float
        var left: Int32
        var right: Int32
    }

    struct StageInfo: Sendable {
        var weakCount: Int
        var threshold: Double
    }

    struct TreeInfo: Sendable {
        var firstNode: Int
        var firstLeaf: Int
    }

    let stages: [StageInfo]
    /// Non-empty for stump-only cascades (the fast path).
    let stumps: [CompiledStump]
    /// Used for cascades with deeper trees.
    let trees: [TreeInfo]
    let nodes: [CompiledNode]
    let leaves: [Float]
    /// Corner offsets of the variance-normalisation rectangle (window shrunk by 1 pixel per side).
    let normOffsets: (Int, Int, Int, Int)
    let normArea: Double
    let windowWidth: Int
    let windowHeight: Int

    init(cascade: HaarCascade, stride: Int) {
        func offsets(_ x: Int, _ y: Int, _ w: Int, _ h: Int) -> (Int, Int, Int, Int) {
            (x + stride * y, x + w + stride * y, x + stride * (y + h), x + w + stride * (y + h))
        }
        func compile(_ feature: HaarCascade.Feature) -> CompiledFeature {
            var corners: [(Int, Int, Int, Int)] = [(0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0)]
            var weights: [Float] = [0, 0, 0]
            for (index, rect) in feature.rects.prefix(3).enumerated() {
                corners[index] = offsets(rect.x, rect.y, rect.width, rect.height)
                weights[index] = rect.weight
            }
            return CompiledFeature(a0: corners[0].0, b0: corners[0].1, c0: corners[0].2, d0: corners[0].3,
                                   a1: corners[1].0, b1: corners[1].1, c1: corners[1].2, d1: corners[1].3,
                                   a2: corners[2].0, b2: corners[2].1, c2: corners[2].2, d2: corners[2].3,
                                   weight0: weights[0], weight1: weights[1], weight2: weights[2])
        }
        let compiledFeatures = cascade.features.map(compile)
        windowWidth = cascade.windowWidth
        windowHeight = cascade.windowHeight
        stages = cascade.stages.map { StageInfo(weakCount: $0.trees.count, threshold: Double($0.threshold)) }
        if cascade.isStumpBased {
            var stumps: [CompiledStump] = []
            stumps.reserveCapacity(cascade.weakClassifierCount)
            for stage in cascade.stages {
                for tree in stage.trees {
                    let node = tree.nodes[0]
                    // A stump goes to leaf 0 when the value is below the threshold (left = 0) and leaf 1 otherwise.
                    let left = tree.leaves[-min(node.left, 0)]
                    let right = tree.leaves[-min(node.right, 0)]
                    stumps.append(CompiledStump(feature: compiledFeatures[node.featureIndex], threshold: node.threshold,
                                                left: left, right: right))
                }
            }
            self.stumps = stumps
            self.trees = []
            self.nodes = []
            self.leaves = []
        } else {
            var trees: [TreeInfo] = []
            var nodes: [CompiledNode] = []
            var leaves: [Float] = []
            for stage in cascade.stages {
                for tree in stage.trees {
                    trees.append(TreeInfo(firstNode: nodes.count, firstLeaf: leaves.count))
                    for node in tree.nodes {
                        nodes.append(CompiledNode(feature: compiledFeatures[node.featureIndex], threshold: node.threshold,
                                                  left: Int32(node.left), right: Int32(node.right)))
                    }
                    leaves.append(contentsOf: tree.leaves)
                }
            }
            self.stumps = []
            self.trees = trees
            self.nodes = nodes
            self.leaves = leaves
        }
        let normWidth = max(cascade.windowWidth - 2, 0)
        let normHeight = max(cascade.windowHeight - 2, 0)
        let norm = offsets(1, 1, normWidth, normHeight)
        normOffsets = norm
        normArea = Double(normWidth * normHeight)
    }

    @inline(__always)
    static func rectangleSum(_ window: UnsafePointer<Int32>, _ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Int32 {
        window[a] &- window[b] &- window[c] &+ window[d]
    }

    /// The unnormalised feature value at `window`, with OpenCV's single-precision operation order.
    @inline(__always)
    static func value(of f: CompiledFeature, at window: UnsafePointer<Int32>) -> Float {
        var result = f.weight0 * Float(rectangleSum(window, f.a0, f.b0, f.c0, f.d0))
            + f.weight1 * Float(rectangleSum(window, f.a1, f.b1, f.c1, f.d1))
        if f.weight2 != 0 {
            result += f.weight2 * Float(rectangleSum(window, f.a2, f.b2, f.c2, f.d2))
        }
        return result
    }

    /// Scans rows `rows` (every `step`-th, starting at `rows.lowerBound`) of windows whose top-left corners lie in
    /// `[0, workingWidth)`, and calls `accept(x, y)` for every window that passes all stages.
    ///
    /// Like OpenCV, a window rejected by the first stage makes the scan skip the next position in the row.
    func scan(sums: UnsafePointer<Int32>, squareSums: UnsafePointer<UInt32>, stride: Int, rows: StrideTo<Int>,
              workingWidth: Int, step: Int, accept: (Int, Int) -> Void) {
        let (n0, n1, n2, n3) = normOffsets
        let area = normArea
        stages.withUnsafeBufferPointer { stageBuffer in
            stumps.withUnsafeBufferPointer { stumpBuffer in
                nodes.withUnsafeBufferPointer { nodeBuffer in
                    leaves.withUnsafeBufferPointer { leafBuffer in
                        trees.withUnsafeBufferPointer { treeBuffer in
                            let stumpBased = !stumps.isEmpty
                            for y in rows {
                                var x = 0
                                while x < workingWidth {
                                    let offset = y * stride + x
                                    let window = sums + offset
                                    let squares = squareSums + offset
                                    let windowSum = window[n0] &- window[n1] &- window[n2] &+ window[n3]
                                    let windowSquares = squares[n0] &- squares[n1] &- squares[n2] &+ squares[n3]
                                    var normalisation = area * Double(windowSquares) - Double(windowSum) * Double(windowSum)
                                    var result = -1
                                    if normalisation > 0 {
                                        normalisation = normalisation.squareRoot()
                                        let factor = Float(1.0 / normalisation)
                                        if area * Double(factor) < 1e-1 {
                                            result = stumpBased
                                                ? Self.evaluateStumps(window: window, factor: factor, stages: stageBuffer,
                                                                      stumps: stumpBuffer)
                                                : Self.evaluateTrees(window: window, factor: factor, stages: stageBuffer,
                                                                     trees: treeBuffer, nodes: nodeBuffer, leaves: leafBuffer)
                                        }
                                    }
                                    if result > 0 { accept(x, y) }
                                    if result == 0 { x += step }
                                    x += step
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Returns 1 when every stage passes, otherwise `-index` of the failing stage (0 for the first stage).
    @inline(__always)
    static func evaluateStumps(window: UnsafePointer<Int32>, factor: Float, stages: UnsafeBufferPointer<StageInfo>,
                               stumps: UnsafeBufferPointer<CompiledStump>) -> Int {
        guard var stump = stumps.baseAddress, let stageBase = stages.baseAddress else { return -1 }
        for stageIndex in 0..<stages.count {
            let stage = stageBase[stageIndex]
            var sum = 0.0
            let end = stump + stage.weakCount
            while stump < end {
                let featureValue = Self.value(of: stump.pointee.feature, at: window) * factor
                sum += Double(featureValue < stump.pointee.threshold ? stump.pointee.left : stump.pointee.right)
                stump += 1
            }
            if sum < stage.threshold { return -stageIndex }
        }
        return 1
    }

    @inline(__always)
    static func evaluateTrees(window: UnsafePointer<Int32>, factor: Float, stages: UnsafeBufferPointer<StageInfo>,
                              trees: UnsafeBufferPointer<TreeInfo>, nodes: UnsafeBufferPointer<CompiledNode>,
                              leaves: UnsafeBufferPointer<Float>) -> Int {
        guard let stageBase = stages.baseAddress, let treeBase = trees.baseAddress,
              let nodeBase = nodes.baseAddress, let leafBase = leaves.baseAddress else { return -1 }
        var treeIndex = 0
        for stageIndex in 0..<stages.count {
            let stage = stageBase[stageIndex]
            var sum = 0.0
            for _ in 0..<stage.weakCount {
                let tree = treeBase[treeIndex]
                treeIndex += 1
                let root = nodeBase + tree.firstNode
                var index: Int32 = 0
                repeat {
                    let node = root + Int(index)
                    let featureValue = Self.value(of: node.pointee.feature, at: window) * factor
                    index = featureValue < node.pointee.threshold ? node.pointee.left : node.pointee.right
                } while index > 0
                sum += Double(leafBase[tree.firstLeaf - Int(index)])
            }
            if sum < stage.threshold { return -stageIndex }
        }
        return 1
    }
}
