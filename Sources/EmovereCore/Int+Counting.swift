extension Int {
    /// The count with its noun, plural unless it is one: `1.counting("frame")` is "1 frame", `2.counting("frame")`
    /// "2 frames".
    public func counting(_ noun: String) -> String { "\(self) \(noun)\(self == 1 ? "" : "s")" }
}
