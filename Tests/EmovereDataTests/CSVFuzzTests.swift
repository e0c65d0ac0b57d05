import EmovereData
import EmovereTestSupport
import Foundation
import Testing

/// Seeded mutation fuzzing of the FER2013 CSV reader: a mutated file loads (malformed rows skipped and reported)
/// or fails with a `DataError` naming it, in lenient and strict mode; nothing crashes or hangs.
struct CSVFuzzTests {
    @Test func mutatedCSVLoadsOrFailsWithATypedError() {
        var rows = ["emotion,pixels,Usage"]
        for row in 0..<12 {
            let pixels = (0..<64).map { String(($0 * 7 + row * 13) % 256) }.joined(separator: " ")
            rows.append("\(row % 7),\(pixels),\(row % 3 == 0 ? "PublicTest" : "Training")")
        }
        let valid = Array((rows.joined(separator: "\r\n") + "\r\n").utf8)
        let cases = ProcessInfo.processInfo.environment["EMOVERE_FUZZ_CASES"].flatMap(Int.init) ?? 2000
        var mutator = Mutator(seed: 4)
        for index in 0..<cases {
            let input = mutator.mutate(valid)
            let name = "case \(index).csv"
            for strict in [false, true] {
                do {
                    let (dataset, _) = try FER2013CSVLoader(imageSize: 8, strict: strict)
                        .load(bytes: input, name: name, split: .training)
                    #expect(dataset.count > 0)
                } catch {
                    #expect(error.description.contains(name), "\(error)")
                }
            }
        }
    }
}
