/// OpenCV's `groupRectangles(rects, groupThreshold, eps)` (the plain variant used by
/// `CascadeClassifier::detectMultiScale`), reproduced with the same integer/float rounding.
enum HaarGrouping {
    /// OpenCV's `SimilarRects`: two boxes are similar when every edge differs by at most
    /// `eps * (min(w1, w2) + min(h1, h2)) / 2`.
    @inline(__always)
    static func similar(_ first: Rect, _ second: Rect, eps: Double) -> Bool {
        let delta = eps * Double(min(first.width, second.width) + min(first.height, second.height)) * 0.5
        return Double(abs(first.x - second.x)) <= delta
            && Double(abs(first.y - second.y)) <= delta
            && Double(abs(first.x + first.width - second.x - second.width)) <= delta
            && Double(abs(first.y + first.height - second.y - second.height)) <= delta
    }

    /// Connected components of the similarity graph, labelled in order of first appearance (as `cv::partition`).
    static func partition(_ boxes: [Rect], eps: Double) -> (labels: [Int], classCount: Int) {
        let count = boxes.count
        var parent = Array(0..<count)
        func root(_ node: Int) -> Int {
            var node = node
            while parent[node] != node {
                parent[node] = parent[parent[node]]
                node = parent[node]
            }
            return node
        }
        for i in 0..<count {
            for j in (i + 1)..<max(count, i + 1) where similar(boxes[i], boxes[j], eps: eps) {
                let a = root(i), b = root(j)
                if a != b { parent[max(a, b)] = min(a, b) }
            }
        }
        var labels = [Int](repeating: 0, count: count)
        var classOfRoot = [Int](repeating: -1, count: count)
        var classCount = 0
        for i in 0..<count {
            let r = root(i)
            if classOfRoot[r] < 0 {
                classOfRoot[r] = classCount
                classCount += 1
            }
            labels[i] = classOfRoot[r]
        }
        return (labels, classCount)
    }

    /// Clusters `boxes`, averages each cluster, drops clusters with `groupThreshold` or fewer members and clusters
    /// lying inside a stronger one. Returns the surviving boxes with their member counts, in cluster order.
    /// With `groupThreshold <= 0` the input is returned unchanged, like OpenCV.
    static func group(_ boxes: [Rect], groupThreshold: Int, eps: Double) -> [(box: Rect, neighbors: Int)] {
        guard groupThreshold > 0, !boxes.isEmpty else { return boxes.map { ($0, 1) } }
        let (labels, classCount) = partition(boxes, eps: eps)
        var sums = [(x: Int, y: Int, width: Int, height: Int)](repeating: (0, 0, 0, 0), count: classCount)
        var weights = [Int](repeating: 0, count: classCount)
        for (index, box) in boxes.enumerated() {
            let label = labels[index]
            sums[label].x += box.x
            sums[label].y += box.y
            sums[label].width += box.width
            sums[label].height += box.height
            weights[label] += 1
        }
        // OpenCV: `float s = 1.f / n; Rect(saturate_cast<int>(x * s), ...)`, i.e. single precision, round half even.
        func average(_ total: Int, _ scale: Float) -> Int {
            Int((Float(total) * scale).rounded(.toNearestOrEven))
        }
        var averaged: [Rect] = []
        averaged.reserveCapacity(classCount)
        for label in 0..<classCount {
            let scale = 1 / Float(weights[label])
            let total = sums[label]
            averaged.append(Rect(x: average(total.x, scale), y: average(total.y, scale),
                                    width: average(total.width, scale), height: average(total.height, scale)))
        }

        var result: [(box: Rect, neighbors: Int)] = []
        for i in 0..<classCount {
            let inner = averaged[i]
            let innerCount = weights[i]
            if innerCount <= groupThreshold { continue }
            var swallowed = false
            for j in 0..<classCount where j != i {
                let outerCount = weights[j]
                if outerCount <= groupThreshold { continue }
                let outer = averaged[j]
                let dx = Int((Double(outer.width) * eps).rounded(.toNearestOrEven))
                let dy = Int((Double(outer.height) * eps).rounded(.toNearestOrEven))
                if inner.x >= outer.x - dx, inner.y >= outer.y - dy,
                   inner.x + inner.width <= outer.x + outer.width + dx,
                   inner.y + inner.height <= outer.y + outer.height + dy,
                   outerCount > max(3, innerCount) || innerCount < 3 {
                    swallowed = true
                    break
                }
            }
            if !swallowed { result.append((inner, innerCount)) }
        }
        return result
    }
}
