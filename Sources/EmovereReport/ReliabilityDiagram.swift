import Emovere
import Foundation

/// Draws calibration bins (``Calibration/bins(probabilities:labels:classes:count:)``) as an SVG document.
public enum ReliabilityDiagram {
    /// A reliability diagram as SVG: per bin, the accuracy as a bar against the diagonal of perfect calibration,
    /// the gap to each bin's mean confidence shaded, and the expected calibration error in the title.
    public static func svg(_ bins: [Calibration.Bin], title: String) -> String {
        let size = 360.0, margin = 48.0, plot = size - 2 * margin
        func x(_ value: Double) -> Double { margin + value * plot }
        func y(_ value: Double) -> Double { size - margin - value * plot }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(size))" height="\(Int(size))" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(size / 2)" y="20" text-anchor="middle" font-size="13">\(SVGText.escaped(title))</text>
            <text x="\(size / 2)" y="36" text-anchor="middle">expected calibration error \(String(format: "%.2f", 100 * Calibration.expectedError(bins))) %</text>

            """
        for bin in bins where bin.count > 0 {
            let left = x(bin.lower) + 1, width = plot / Double(bins.count) - 2
            svg += "<rect x=\"\(f(left))\" y=\"\(f(y(bin.accuracy)))\" width=\"\(f(width))\" height=\"\(f(y(0) - y(bin.accuracy)))\" fill=\"#4a78b5\"/>\n"
            let top = max(bin.accuracy, bin.confidence), bottom = min(bin.accuracy, bin.confidence)
            svg += "<rect x=\"\(f(left))\" y=\"\(f(y(top)))\" width=\"\(f(width))\" height=\"\(f(y(bottom) - y(top)))\" fill=\"#d9534f\" fill-opacity=\"0.45\"/>\n"
        }
        svg += """
            <line x1="\(f(x(0)))" y1="\(f(y(0)))" x2="\(f(x(1)))" y2="\(f(y(1)))" stroke="#555" stroke-dasharray="4 3"/>
            <rect x="\(f(margin))" y="\(f(margin))" width="\(f(plot))" height="\(f(plot))" fill="none" stroke="black"/>
            <text x="\(size / 2)" y="\(size - 12)" text-anchor="middle">confidence (top probability)</text>
            <text x="14" y="\(size / 2)" text-anchor="middle" transform="rotate(-90 14 \(size / 2))">accuracy</text>

            """
        for tick in stride(from: 0.0, through: 1.0, by: 0.2) {
            svg += "<text x=\"\(f(x(tick)))\" y=\"\(f(y(0) + 14))\" text-anchor=\"middle\">\(String(format: "%.1f", tick))</text>\n"
            svg += "<text x=\"\(f(x(0) - 6))\" y=\"\(f(y(tick) + 4))\" text-anchor=\"end\">\(String(format: "%.1f", tick))</text>\n"
        }
        return svg + "</svg>\n"
    }

    private static func f(_ value: Double) -> String { String(format: "%.1f", value) }
}
