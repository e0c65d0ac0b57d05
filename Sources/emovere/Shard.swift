import ArgumentParser
import EmovereFiles
import EmovereNN
import Foundation

/// Share K of N of a collection (`--shard K/N`): the paths whose FNV-1a hash is `K - 1` modulo N.
struct Shard: ExpressibleByArgument, Equatable {
    var index: Int
    var count: Int

    init?(argument: String) {
        let parts = argument.split(separator: "/")
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
              (1...count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// Whether `path` (as given) belongs to this share: the same on every machine and every run.
    func contains(_ path: String) -> Bool {
        Int(FNV1a.hash(path) % UInt64(count)) == index - 1
    }
}
