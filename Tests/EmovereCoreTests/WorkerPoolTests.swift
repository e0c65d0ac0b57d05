import EmovereCore
import Foundation
import Synchronization
import Testing

/// The threads behind `Parallel`.
struct WorkerPoolTests {
    /// A worker shows its name to the system (`top -H`, `perf`, debuggers), not its creator's: the name must be set
    /// from the thread itself and fit Linux's 15 bytes.
    @Test(.enabled(if: Parallel.workerCount > 1, "one worker: no threads besides the caller"))
    func workersAreNamedForTheSystem() {
        let caller = UnsafeSendable(pthread_self())
        let names = Mutex<[String]>([])
        // The caller runs chunks too, and all of them while another test's job holds the pool: repeat until a worker
        // has taken one, for up to a minute (each chunk sleeps a little, so a worker still waking up finds chunks left
        // even on a busy machine).
        let deadline = Date().addingTimeInterval(60)
        while names.withLock({ $0.isEmpty }) && Date() < deadline {
            Parallel.forEachChunk(Parallel.workerCount * 4) { _, _ in
                guard pthread_equal(pthread_self(), caller.value) == 0 else {
                    usleep(1_000)
                    return
                }
                let name = Self.systemNameOfThisThread()
                names.withLock { $0.append(name) }
            }
        }
        let seen = names.withLock { $0 }
        #expect(!seen.isEmpty && seen.allSatisfy { $0.hasPrefix("emovere-w") }, "\(seen)")
    }

    /// `Parallel.forEach` calls every item once, on at most the threads asked for.
    @Test(arguments: [(0, 3), (1, 3), (7, 1), (40, 2), (40, 64)])
    func forEachCallsEveryItemOnceOnTheThreadsAsked(count: Int, threads: Int) {
        let calls = Mutex<[Int: Int]>([:])
        let seenThreads = Mutex<Set<String>>([])
        Parallel.forEach(count, threads: threads) { item in
            calls.withLock { $0[item, default: 0] += 1 }
            seenThreads.withLock { _ = $0.insert(String(describing: pthread_self())) }
        }
        #expect(calls.withLock { $0 } == Dictionary(uniqueKeysWithValues: (0..<count).map { ($0, 1) }))
        #expect(seenThreads.withLock { $0.count } <= max(1, threads), "\(count) items on \(threads) threads")
    }

    /// The calling thread's name as the system keeps it.
    private static func systemNameOfThisThread() -> String {
        #if os(Linux)
        let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
        return name.trimmingCharacters(in: .newlines)
        #else
        var buffer = [CChar](repeating: 0, count: 64)
        pthread_getname_np(pthread_self(), &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #endif
    }
}
