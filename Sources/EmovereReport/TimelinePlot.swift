import Emovere
import EmovereData
import Foundation

/// Draws an ``EmotionTimeline`` as a self-contained SVG document: one panel per track, each with the seven
/// emotion probabilities over time as coloured lines (broken where the track was not visible), a shared time axis
/// and a legend.
public enum TimelinePlot {
    /// The line colour of each emotion, in `Emotion` order.
    public static let colors = ["#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#1f77b4", "#17becf", "#7f7f7f"]

    /// The SVG text.
    ///
    /// - Parameters:
    ///   - timeline: The recorded probabilities.
    ///   - summaries: Per-track statistics, for the panel titles (dominant emotion, frames).
    ///   - duration: The time axis length in seconds (the video's duration).
    ///   - title: The heading, e.g. the video's file name.
    public static func svg(timeline: EmotionTimeline, summaries: [Int: TrackSummary], duration: Double,
                           title: String) -> String {
        let width = 900.0, left = 50.0, right = 20.0, panelHeight = 130.0, panelGap = 42.0, top = 70.0
        let plotWidth = width - left - right
        let tracks = timeline.tracks
        let height = top + Double(max(tracks.count, 1)) * (panelHeight + panelGap) + 10
        let span = max(duration, 1e-3)
        func x(_ time: Double) -> Double { left + min(max(time / span, 0), 1) * plotWidth }

        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(format(width))" height="\(format(height))" \
        viewBox="0 0 \(format(width)) \(format(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(format(left))" y="22" font-size="15" font-weight="bold">\(SVGText.escaped(title))</text>

        """
        // Legend.
        var legendX = left
        for emotion in Emotion.allCases {
            svg += "<rect x=\"\(format(legendX))\" y=\"34\" width=\"14\" height=\"4\" fill=\"\(colors[emotion.rawValue])\"/>"
            svg += "<text x=\"\(format(legendX + 18))\" y=\"40\">\(emotion.name)</text>\n"
            legendX += 80
        }
        if tracks.isEmpty {
            svg += "<text x=\"\(format(left))\" y=\"\(format(top + 20))\">no faces found</text>\n"
        }
        let tickStep = niceStep(span / 8)
        for (panel, track) in tracks.enumerated() {
            let panelTop = top + Double(panel) * (panelHeight + panelGap)
            func y(_ probability: Double) -> Double { panelTop + (1 - min(max(probability, 0), 1)) * panelHeight }
            var heading = "track \(track)"
            if let summary = summaries[track] {
                heading += ": \(summary.dominantEmotion.name) (mean \(percent(summary.meanProbabilities[summary.dominantEmotion.rawValue]))"
                heading += ", top in \(percent(summary.dominantShare)) of \(summary.frames) frames)"
            }
            svg += "<text x=\"\(format(left))\" y=\"\(format(panelTop - 8))\" font-weight=\"bold\">\(SVGText.escaped(heading))</text>\n"
            svg += "<rect x=\"\(format(left))\" y=\"\(format(panelTop))\" width=\"\(format(plotWidth))\" "
                + "height=\"\(format(panelHeight))\" fill=\"none\" stroke=\"#999\"/>\n"
            for probability in [0.0, 0.5, 1.0] {
                svg += "<line x1=\"\(format(left))\" x2=\"\(format(left + plotWidth))\" y1=\"\(format(y(probability)))\" "
                    + "y2=\"\(format(y(probability)))\" stroke=\"#eee\"/>"
                svg += "<text x=\"\(format(left - 6))\" y=\"\(format(y(probability) + 4))\" text-anchor=\"end\">"
                    + "\(format(probability))</text>\n"
            }
            var tick = 0.0
            while tick <= span + 1e-9 {
                svg += "<text x=\"\(format(x(tick)))\" y=\"\(format(panelTop + panelHeight + 14))\" text-anchor=\"middle\">"
                    + "\(format(tick))s</text>"
                tick += tickStep
            }
            svg += "\n"
            let points = timeline.points(track: track)
            for emotion in Emotion.allCases {
                var segments: [[String]] = []
                for (index, point) in points.enumerated() {
                    let coordinate = "\(format(x(point.time))),\(format(y(point.probabilities[emotion.rawValue])))"
                    if index > 0, timeline.areContiguous(track: track, index - 1, index) {
                        segments[segments.count - 1].append(coordinate)
                    } else {
                        segments.append([coordinate])
                    }
                }
                for segment in segments {
                    if segment.count == 1 {
                        let parts = segment[0].split(separator: ",")
                        svg += "<circle cx=\"\(parts[0])\" cy=\"\(parts[1])\" r=\"1.5\" fill=\"\(colors[emotion.rawValue])\"/>"
                    } else {
                        svg += "<polyline fill=\"none\" stroke=\"\(colors[emotion.rawValue])\" stroke-width=\"1.5\" "
                            + "points=\"\(segment.joined(separator: " "))\"/>"
                    }
                }
                svg += "\n"
            }
        }
        svg += "</svg>\n"
        return svg
    }

    /// 1, 2 or 5 times a power of ten, at least `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough > 0, rough.isFinite else { return 1 }
        let magnitude = pow(10, (log10(rough)).rounded(.down))
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * magnitude >= rough { return factor * magnitude }
        return 10 * magnitude
    }

    /// A number with at most two decimals, without trailing zeros.
    static func format(_ value: Double) -> String {
        var text = String(format: "%.2f", value)
        while text.contains(".") && (text.hasSuffix("0") || text.hasSuffix(".")) { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    private static func percent(_ value: Double) -> String { String(format: "%.0f%%", value * 100) }
}
