import Testing
import EmovereData

struct BatchSamplerTests {
    @Test func ordersArePermutationsDeterminedBySeedAndEpoch() {
        let sampler = BatchSampler(count: 100, seed: 7)
        let first = sampler.order(epoch: 0)
        #expect(first.sorted() == Array(0..<100))
        #expect(first != Array(0..<100))
        #expect(sampler.order(epoch: 0) == first)
        #expect(BatchSampler(count: 100, seed: 7).order(epoch: 0) == first)
        #expect(sampler.order(epoch: 1) != first)
        #expect(BatchSampler(count: 100, seed: 8).order(epoch: 0) != first)
    }

    @Test func batchesCoverEverySampleOnce() {
        let sampler = BatchSampler(count: 10, seed: 1)
        let batches = sampler.batches(epoch: 3, batchSize: 4)
        #expect(batches.map(\.count) == [4, 4, 2])
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<10))
        #expect(sampler.batches(epoch: 3, batchSize: 4, dropLast: true).map(\.count) == [4, 4])
    }
}
