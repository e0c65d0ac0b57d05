import Emovere
import EmovereCore
import EmovereNN
import Foundation

/// Renders a training history as an SVG chart: loss (left) and accuracy (right) per epoch,
/// training and validation, with axes and a legend. Plain SVG text, viewable in any browser.
public enum TrainingCurves {
    /// For `Trainer.epochFinished`: rewrites `directory/curves.svg` from the history after every epoch.
    public static func writer(directory: String, title: String) -> (TrainingState) throws -> Void {
        { state in try AtomicFile.write(svg(state.history, title: title), to: directory + "/curves.svg") }
    }

    /// The SVG document for `history`.
    public static func svg(_ history: [EpochRecord], title: String = "Training") -> String {
        let panelWidth = 420.0
        let panelHeight = 260.0
        let margin = (left: 52.0, top: 52.0, bottom: 40.0, gap: 60.0)
        let width = margin.left * 2 + panelWidth * 2 + margin.gap
        let height = margin.top + panelHeight + margin.bottom + 20
        var body = ""
        let epochs = Double(max(history.count, 1))
        let losses = history.flatMap { [$0.trainingLoss, $0.validationLoss] }
        let lossRange = niceRange(losses.min() ?? 0, losses.max() ?? 1)
        let accuracies = history.flatMap { [$0.trainingAccuracy, $0.validationAccuracy] }
        let accuracyRange = niceRange(accuracies.min() ?? 0, accuracies.max() ?? 1)
        for (panel, name, range, series) in [
            (0, "loss", lossRange, [(\EpochRecord.trainingLoss, "#1f77b4", "training"), (\.validationLoss, "#d62728", "validation")]),
            (1, "accuracy", accuracyRange, [(\EpochRecord.trainingAccuracy, "#1f77b4", "training"), (\.validationAccuracy, "#d62728", "validation")]),
        ] {
            let x0 = margin.left + Double(panel) * (panelWidth + margin.gap)
            let y0 = margin.top
            body += "<rect x=\"\(x0)\" y=\"\(y0)\" width=\"\(panelWidth)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#888\"/>\n"
            body += "<text x=\"\(x0 + panelWidth / 2)\" y=\"\(y0 - 10)\" text-anchor=\"middle\" font-size=\"14\">\(name)</text>\n"
            for tick in 0...4 {
                let value = range.0 + (range.1 - range.0) * Double(tick) / 4
                let y = y0 + panelHeight - panelHeight * Double(tick) / 4
                body += "<line x1=\"\(x0)\" y1=\"\(y)\" x2=\"\(x0 + panelWidth)\" y2=\"\(y)\" stroke=\"#eee\"/>\n"
                body += "<text x=\"\(x0 - 6)\" y=\"\(y + 4)\" text-anchor=\"end\" font-size=\"11\">\(String(format: "%.2f", value))</text>\n"
            }
            body += "<text x=\"\(x0 + panelWidth / 2)\" y=\"\(y0 + panelHeight + 30)\" text-anchor=\"middle\" font-size=\"12\">epoch (1-\(history.count))</text>\n"
            for (index, (keyPath, colour, label)) in series.enumerated() {
                let points = history.enumerated().map { epoch, record -> String in
                    let x = x0 + panelWidth * (Double(epoch) + 0.5) / epochs
                    let fraction = (record[keyPath: keyPath] - range.0) / max(range.1 - range.0, 1e-9)
                    return String(format: "%.1f,%.1f", x, y0 + panelHeight * (1 - fraction))
                }.joined(separator: " ")
                body += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
                let legendY = y0 + 16 + Double(index) * 16
                body += "<line x1=\"\(x0 + 10)\" y1=\"\(legendY - 4)\" x2=\"\(x0 + 30)\" y2=\"\(legendY - 4)\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
                body += "<text x=\"\(x0 + 36)\" y=\"\(legendY)\" font-size=\"11\">\(label)</text>\n"
            }
        }
        let escaped = SVGText.escaped(title)
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(margin.left)" y="18" font-size="14" font-weight="bold">\(escaped)</text>
            \(body)</svg>

            """
    }

    /// A range slightly wider than `[low, high]` with round ends.
    static func niceRange(_ low: Double, _ high: Double) -> (Double, Double) {
        let span = max(high - low, 1e-3)
        let step = pow(10, floor(log10(span))) / 2
        return (floor(low / step) * step, ceil(high / step) * step)
    }
}
