import CEmovereCPU
import Dispatch
import Foundation

/// Splits work over the machine's cores on a ``WorkerPool`` of `workerCount - 1` long-lived threads plus the caller.
///
/// Kernels split over the batch (or over rows); each chunk is a contiguous range, so results
/// do not depend on scheduling and every run gives the same numbers.
public enum Parallel {
    /// The number of workers: `EMOVERE_THREADS` when it is a valid setting (`workerSetting`), else the active
    /// processor count.
    public static let workerCount: Int = {
        let processors = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return (try? workerSetting(ProcessInfo.processInfo.environment["EMOVERE_THREADS"]).get()) ?? processors
    }()

    /// The workers a parallel call made now would get: one inside a chunk of a running job (a nested call runs on
    /// its calling thread), else `workerCount`. For sizing work items only; results never depend on it.
    public static var availableWorkers: Int { pool.isBusy ? 1 : workerCount }

    /// The most workers `EMOVERE_THREADS` may ask for.
    public static let maximumWorkers = 256

    /// A problem with an `EMOVERE_THREADS` value.
    public struct WorkerSettingError: Error, CustomStringConvertible {
        public var value: String
        public var description: String {
            "EMOVERE_THREADS is '\(value)'; expected a whole number of worker threads from 1 to \(maximumWorkers), or unset for one per processor"
        }
    }

    /// The worker count an `EMOVERE_THREADS` value asks for: nil (unset or empty) means one per active processor.
    public static func workerSetting(_ value: String?) -> Result<Int, WorkerSettingError> {
        guard let value, !value.isEmpty else { return .success(max(1, ProcessInfo.processInfo.activeProcessorCount)) }
        guard let count = Int(value), (1...maximumWorkers).contains(count) else { return .failure(WorkerSettingError(value: value)) }
        return .success(count)
    }

    /// The contiguous ranges that split `0..<count` into at most `workerCount` chunks of at least
    /// `minimumChunk` items each (always at least one chunk; never more chunks than `count`).
    /// Waking a worker costs tens of microseconds, so small jobs stay on the calling thread.
    public static func chunks(_ count: Int, maximumChunks: Int = workerCount, minimumChunk: Int = 1) -> [Range<Int>] {
        let parts = max(1, min(maximumChunks, count / max(minimumChunk, 1)))
        return (0..<parts).map { part in (count * part / parts)..<(count * (part + 1) / parts) }
    }

    /// Items per chunk below which elementwise work is not split (about 64 KB of floats).
    public static let elementwiseGrain = 16_384

    /// Calls `body(chunkIndex, range)` for each chunk of `0..<count` (as `chunks` splits it), in parallel.
    ///
    /// Every chunk runs with denormal floats flushed to zero (`emovere_flush_denormals`): a trained network's tiny
    /// values would otherwise make some CPUs run its kernels many times slower, and results would depend on which
    /// thread ran a chunk if only some threads flushed.
    public static func forEachChunk(
        _ count: Int, maximumChunks: Int = workerCount, minimumChunk: Int = 1,
        _ body: @Sendable (Int, Range<Int>) -> Void
    ) {
        let ranges = chunks(count, maximumChunks: maximumChunks, minimumChunk: minimumChunk)
        if ranges.count == 1 {
            withDenormalsFlushed { body(0, ranges[0]) }
            return
        }
        pool.run(chunks: ranges.count) { index in
            withDenormalsFlushed { body(index, ranges[index]) }
        }
    }

    /// Calls `body(item)` for each of `count` items on at most `threads` of the workers, item `i` on the `i % threads`th
    /// (more items than threads even out items of uneven cost without taking more cores than asked).
    public static func forEach(_ count: Int, threads: Int, _ body: @Sendable (Int) -> Void) {
        let used = max(1, min(threads, count))
        forEachChunk(used, maximumChunks: used) { thread, _ in
            for item in stride(from: thread, to: count, by: used) { body(item) }
        }
    }

    /// Runs `body` on this thread with denormals flushed to zero, then restores the thread's floating-point state.
    @inline(__always)
    public static func withDenormalsFlushed<Result>(_ body: () throws -> Result) rethrows -> Result {
        let state = emovere_flush_denormals()
        defer { emovere_restore_denormals(state) }
        return try body()
    }

    /// The worker threads behind `forEachChunk` (one fewer than `workerCount`: the caller works too).
    static let pool = WorkerPool(extraThreads: workerCount - 1)
}
