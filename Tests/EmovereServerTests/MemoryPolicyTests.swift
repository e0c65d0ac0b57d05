@testable import EmovereServer
import Testing

/// The allocator setting `run()` makes before serving.
struct MemoryPolicyTests {
    /// glibc takes the fixed mmap threshold that keeps decoded images out of the thread arenas (a build that
    /// compiled the setting away, as one did when `__GLIBC__` was tested before any glibc header, fails here).
    @Test func largeAllocationsAreMapped() {
        #if canImport(Glibc)
        #expect(EmovereServer.mapLargeAllocations())
        #endif
    }
}
