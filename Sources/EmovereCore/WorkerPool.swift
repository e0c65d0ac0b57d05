import CEmovereCPU
import Foundation
import Synchronization

/// A fixed set of threads that run the chunks of one parallel job at a time, woken in about a
/// microsecond: after each job the workers spin briefly before sleeping, so the dozens of small jobs
/// of one forward pass do not each pay a thread wake-up (tens of microseconds with
/// `DispatchQueue.concurrentPerform`).
///
/// The calling thread runs chunks too. A call made while another job runs (another thread's, or a
/// nested one) runs all its chunks on the calling thread: never more busy threads than cores.
///
/// Chunks are claimed through one atomic word holding the job's generation (high bits) and the next
/// chunk index (low 24 bits), so a worker that wakes late can never claim a chunk of a finished job.
final class WorkerPool: @unchecked Sendable {
    /// The running job's chunk body; read by a worker only after it has claimed a chunk of this job.
    private nonisolated(unsafe) var job: ((Int) -> Void)?
    private let generation = Atomic<Int>(0)
    private let claim = Atomic<Int>(0)
    private let chunkCount = Atomic<Int>(0)
    private let unfinished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let wakeUp = DispatchSemaphore(value: 0)
    private let threadCount: Int

    private static let indexBits = 24
    private static let indexMask = (1 << indexBits) - 1
    /// Polls a worker makes for the next job before it sleeps. Each poll yields the core (`sched_yield`),
    /// so a waiting worker costs nothing when other processes need the CPU, and about a microsecond
    /// per poll when the machine is idle.
    private static let spinLimit = 500
    /// Plain reads of the job word (about a nanosecond each) before a waiting thread starts yielding:
    /// the gap between two layers of a batch-1 pass is a few microseconds, shorter than one
    /// `sched_yield` round trip.
    private static let busyReads = 8192

    init(extraThreads: Int) {
        threadCount = extraThreads
        for index in 0..<extraThreads {
            // Named by the thread itself, for the system (`top -H`, `perf`, debuggers): Foundation on Linux keeps a
            // name given before `start()` to itself, and one set from the thread can miss the system when the
            // thread runs before `start()` returns. Linux refuses names over 15 bytes: "emovere-w" and the index.
            let thread = Thread { [unowned self] in
                _ = emovere_name_this_thread("emovere-w\(index)")
                self.workerLoop()
            }
            thread.start()
        }
    }

    /// Whether a job is running: a call made now would run all its chunks on the calling thread.
    var isBusy: Bool { busy.load(ordering: .relaxed) }

    /// Runs `body(0..<chunks)`, each index once, on the calling thread and the workers; returns when all are done.
    func run(chunks: Int, _ body: (Int) -> Void) {
        guard threadCount > 0, chunks > 1, chunks <= Self.indexMask,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for index in 0..<chunks { body(index) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            let current = generation.load(ordering: .relaxed) + 1
            // The claim word moves to the new generation before the count changes: a worker late for the last job
            // that reads the new count then finds the claim word of another job and claims nothing.
            claim.store(current << Self.indexBits, ordering: .relaxed)
            chunkCount.store(chunks, ordering: .releasing)
            unfinished.store(chunks, ordering: .relaxed)
            generation.store(current, ordering: .releasing)
            // Store then load, as a sleeping worker does the other way round: without a full fence each side may read
            // the other's old value (a store can wait in the store buffer while a later load goes ahead), the worker
            // sleeping through this job and nobody waking it.
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            let sleeping = min(sleepers.load(ordering: .acquiring), threadCount)
            for _ in 0..<sleeping { wakeUp.signal() }
            runChunks(of: current, count: chunks)
            var reads = 0
            while unfinished.load(ordering: .acquiring) > 0 {
                reads += 1
                if reads > Self.busyReads { sched_yield() }
            }
            job = nil
        }
        busy.store(false, ordering: .releasing)
    }

    /// Claims and runs chunks of job `jobGeneration` until none is left (or the job is over).
    private func runChunks(of jobGeneration: Int, count: Int) {
        var value = claim.load(ordering: .acquiring)
        while true {
            guard value >> Self.indexBits == jobGeneration, value & Self.indexMask < count else { return }
            let (exchanged, original) = claim.compareExchange(
                expected: value, desired: value + 1, ordering: .acquiringAndReleasing)
            if !exchanged {
                value = original
                continue
            }
            runChunk(value & Self.indexMask)
            unfinished.subtract(1, ordering: .releasing)
            value = claim.load(ordering: .acquiring)
        }
    }

    @inline(never)
    private func runChunk(_ index: Int) {
        job?(index)
    }

    private func workerLoop() {
        var seen = 0
        while true {
            var spins = 0
            var reads = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen, reads < Self.busyReads {
                reads += 1
                current = generation.load(ordering: .acquiring)
            }
            while current == seen {
                spins += 1
                sched_yield()
                if spins > Self.spinLimit {
                    sleepers.add(1, ordering: .acquiringAndReleasing)
                    // Re-check after announcing the sleep, so a job published meanwhile is not missed (the fence pairs
                    // with the publisher's).
                    atomicMemoryFence(ordering: .sequentiallyConsistent)
                    if generation.load(ordering: .acquiring) == seen { wakeUp.wait() }
                    sleepers.subtract(1, ordering: .acquiringAndReleasing)
                    spins = 0
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            runChunks(of: current, count: chunkCount.load(ordering: .acquiring))
        }
    }
}
