import EmovereCore
import EmovereTensor

/// Seeded mutations of a valid input for fuzz tests: bit flips, bytes set to extremes, truncations, deletions,
/// duplicated or spliced chunks, and 32-bit fields overwritten with extreme lengths. The same seed gives the same
/// cases, so a failure names a case that can be replayed.
public struct Mutator {
    private var random: SplitMix64

    public init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    private mutating func below(_ bound: Int) -> Int {
        bound <= 1 ? 0 : Int(random.next() % UInt64(bound))
    }

    /// A mutated copy of `input` (never empty unless `input` is): one to four mutations.
    public mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0..<(1 + below(4)) where !bytes.isEmpty {
            let position = below(bytes.count)
            switch below(7) {
            case 0:
                bytes[position] ^= UInt8(1 << below(8))
            case 1:
                bytes[position] = [0x00, 0xFF, 0x7F, 0x80][below(4)]
            case 2:
                bytes.removeLast(below(bytes.count))
            case 3:
                bytes.removeSubrange(position..<min(bytes.count, position + 1 + below(64)))
            case 4:
                let chunk = bytes[position..<min(bytes.count, position + 1 + below(64))]
                bytes.insert(contentsOf: chunk, at: below(bytes.count))
            case 5:
                let length: UInt32 = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000, 0xFFFF][below(6)]
                for offset in 0..<4 where position + offset < bytes.count {
                    bytes[position + offset] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(offset)))
                }
            default:
                let source = below(bytes.count)
                let chunk = Array(bytes[source..<min(bytes.count, source + 1 + below(256))])
                bytes.replaceSubrange(position..<min(bytes.count, position + chunk.count), with: chunk.reversed())
            }
        }
        return bytes.isEmpty ? input.prefix(1).map { $0 } : bytes
    }
}
