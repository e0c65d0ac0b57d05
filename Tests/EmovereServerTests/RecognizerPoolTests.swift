import Dispatch
import Emovere
@testable import EmovereServer
import EmovereTensor
import EmovereVision
import Foundation
import Synchronization
import Testing

/// The pool's admission: run at once, wait in a bounded list, refuse beyond it, leave on cancellation.
struct RecognizerPoolTests {
    struct ConditionNeverHeld: Error, CustomStringConvertible {
        var description: String
    }

    /// Waits until `condition` holds; after two minutes, generous so that a busy 2-core machine whose two Swift
    /// concurrency threads are taken by other tests' set-up never fails a test (10 s once did), throws naming `what`.
    static func waitUntil(_ what: String, _ condition: @escaping () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw ConditionNeverHeld(description: "never held: \(what)") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    @Test func waitingRequestsRunInTurnAndExtraOnesAreRefused() async throws {
        let pool = try ServerFixture.server(recognizers: 1, waiting: 1).pool
        let gate = DispatchSemaphore(value: 0)
        let first = Task { try await pool.withRecognizer { _ in gate.wait(); return 1 } }
        try await Self.waitUntil("the first analysis runs") { pool.occupancy.running == 1 }
        let second = Task { try await pool.withRecognizer { _ in 2 } }
        try await Self.waitUntil("a request waits") { pool.occupancy.waiting == 1 }
        await #expect(throws: ServerError.overloaded(running: 1, waiting: 1)) {
            try await pool.withRecognizer { _ in 3 }
        }
        gate.signal()
        #expect(try await first.value == 1)
        #expect(try await second.value == 2)
        #expect(pool.occupancy == (0, 0))
    }

    @Test func cancelledWaiterLeavesTheList() async throws {
        let pool = try ServerFixture.server(recognizers: 1, waiting: 4).pool
        let gate = DispatchSemaphore(value: 0)
        let first = Task { try await pool.withRecognizer { _ in gate.wait() } }
        try await Self.waitUntil("the first analysis runs") { pool.occupancy.running == 1 }
        let waiter = Task { try await pool.withRecognizer { _ in 0 } }
        try await Self.waitUntil("a request waits") { pool.occupancy.waiting == 1 }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(pool.occupancy.waiting == 0)
        gate.signal()
        try await first.value
        #expect(try await pool.withRecognizer { _ in 7 } == 7)
    }

    /// A waiting request whose client left gives up its place within a check interval, not when a recognizer frees
    /// up: under overload, gone clients' requests once held the waiting list and live ones were refused 503.
    @Test func unwantedWaiterLeavesTheListBeforeARecognizerIsFree() async throws {
        let pool = try ServerFixture.server(recognizers: 1, waiting: 1).pool
        let gate = DispatchSemaphore(value: 0)
        let first = Task { try await pool.withRecognizer { _ in gate.wait() } }
        defer { gate.signal() }  // a failed wait below must not leave the first analysis blocked
        try await Self.waitUntil("the first analysis runs") { pool.occupancy.running == 1 }
        let wanted = Atomic(true)
        let analysed = Atomic(false)
        let gone = Task {
            try await pool.withRecognizer(isWanted: { wanted.load(ordering: .relaxed) }) { _ in
                analysed.store(true, ordering: .relaxed)
            }
        }
        try await Self.waitUntil("a request waits") { pool.occupancy.waiting == 1 }
        wanted.store(false, ordering: .relaxed)
        try await Self.waitUntil("the unwanted request leaves the list") { pool.occupancy.waiting == 0 }
        await #expect(throws: ServerError.clientClosedRequest) { try await gone.value }
        #expect(pool.occupancy == (1, 0))
        // Its place is free for a live request while the recognizer is still busy.
        let live = Task { try await pool.withRecognizer { _ in 5 } }
        try await Self.waitUntil("a request waits") { pool.occupancy.waiting == 1 }
        gate.signal()
        try await first.value
        #expect(try await live.value == 5)
        let wasAnalysed = analysed.load(ordering: .relaxed)
        #expect(!wasAnalysed)
        #expect(pool.occupancy == (0, 0))
    }

    /// The default pool size is the number of cores, at most the 256 that validation accepts (a machine with more
    /// cores once refused to start with the defaults).
    @Test func defaultConcurrencyIsValid() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        #expect(ServerConfiguration().maximumConcurrentAnalyses == min(cores, 256))
        try ServerConfiguration().validate()
    }

    @Test func recognizersRunInParallel() async throws {
        let pool = try ServerFixture.server(recognizers: 2, waiting: 0).pool
        let both = DispatchGroup()
        both.enter()
        both.enter()
        // Each body waits for the other to start: this only finishes if both run at the same time.
        async let first: Bool = pool.withRecognizer { _ in both.leave(); return both.wait(timeout: .now() + 120) == .success }
        async let second: Bool = pool.withRecognizer { _ in both.leave(); return both.wait(timeout: .now() + 120) == .success }
        let (firstRanAlongside, secondRanAlongside) = try await (first, second)
        #expect(firstRanAlongside && secondRanAlongside)
    }
}

/// Multipart parsing and media types.
struct UploadParsingTests {
    /// The pool reports its models' precision (what the server's first log line names): float32 by default, bfloat16
    /// when the models were prepared in it on a CPU that runs it.
    @Test func poolReportsItsModelsPrecision() throws {
        #expect(try ServerFixture.server(recognizers: 1, waiting: 0).pool.precision == .float32)
        let (model, card) = try ModelFile.loadForInference(ServerFixture.modelPath, precision: .bfloat16)
        let recognizer = EmotionRecognizer(model: model, card: card, detector: try FaceDetector(cascadePath: ServerFixture.cascadePath))
        let pool = RecognizerPool(recognizers: [recognizer], maximumWaiting: 0)
        #expect(pool.precision == (Precision.isBFloat16Supported ? .bfloat16 : .float32))
    }

    @Test func mediaTypeParametersAreUnquotedAndLowerCased() throws {
        let type = try #require(MediaType(#"Multipart/Form-Data; Boundary="a b;c"; charset=utf-8"#))
        #expect(type.essence == "multipart/form-data")
        #expect(type.parameters["boundary"] == "a b;c")
        #expect(type.parameters["charset"] == "utf-8")
        // A `;` in a quoted value, also after an escaped quote, does not end it.
        let disposition = MediaType.split(#"form-data; name="file"; filename="a;b.jpg"; other="x\";y"; size=3"#)
        #expect(disposition.head == "form-data" && disposition.parameters["name"] == "file")
        #expect(disposition.parameters["filename"] == "a;b.jpg")
        #expect(disposition.parameters["other"]?.hasSuffix(";y") == true && disposition.parameters["size"] == "3")
        #expect(MediaType("jpeg") == nil)
        #expect(MediaType("") == nil)
    }

    @Test func multipartPartsKeepTheirBytes() throws {
        let body = Array("preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\none\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.png\"\r\nContent-Type: image/png\r\n\r\n\r\n--X\r\n--XX--\r\n".utf8)
        let parts = try MultipartForm.parts(of: body, boundary: "XX")
        #expect(parts.count == 2)
        #expect(parts[0].name == "a" && Array(parts[0].body) == Array("one".utf8))
        #expect(parts[1].fileName == "b.png" && parts[1].contentType == "image/png")
        #expect(Array(parts[1].body) == Array("\r\n--X".utf8))
    }

    /// A form of many empty parts is refused at the limit (a 10 MB body of them once made about a million records).
    @Test func multipartFormsHaveAtMost64Parts() throws {
        func form(parts: Int) -> [UInt8] {
            Array(("--b" + String(repeating: "\r\n\r\n\r\n\r\n--b", count: parts) + "--\r\n").utf8)
        }
        #expect(try MultipartForm.parts(of: form(parts: 64), boundary: "b").count == 64)
        #expect(throws: ServerError.malformedRequest(
            "multipart form has more than 64 parts; expected one file and at most a few fields")) {
            try MultipartForm.parts(of: form(parts: 65), boundary: "b")
        }
    }

    /// A part's header block may take at most `maximumHeaderBytes` (one as long as the body cost many times its size
    /// in text work); one just within is read.
    @Test func multipartPartHeadersAreBounded() throws {
        func form(headerBytes: Int) -> [UInt8] {
            let header = "X: " + String(repeating: "a", count: headerBytes - 3)
            return Array("--b\r\n\(header)\r\n\r\nbody\r\n--b--\r\n".utf8)
        }
        let within = try MultipartForm.parts(of: form(headerBytes: MultipartForm.maximumHeaderBytes), boundary: "b")
        #expect(within.count == 1 && Array(within[0].body) == Array("body".utf8))
        #expect(throws: ServerError.malformedRequest(
            "multipart part at byte 5 has headers longer than \(MultipartForm.maximumHeaderBytes) bytes")) {
            try MultipartForm.parts(of: form(headerBytes: MultipartForm.maximumHeaderBytes + 1), boundary: "b")
        }
        #expect(throws: ServerError.malformedRequest("multipart part at byte 5 has no blank line after its headers")) {
            try MultipartForm.parts(of: Array("--b\r\nX: a\r\n".utf8), boundary: "b")
        }
    }

    /// The boundary search (linear time: the client picks the boundary) against a naive twin, on strings of two
    /// letters, where partial matches abound.
    @Test func boundarySearchMatchesANaiveSearch() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(bound))
        }
        for _ in 0..<2000 {
            let needle = (0..<next(6) + 1).map { _ in UInt8(97 + next(2)) }
            let haystack = (0..<next(40)).map { _ in UInt8(97 + next(2)) }
            let start = next(haystack.count + 1)
            let last = haystack.count - needle.count
            let naive = start <= last ? (start...last).first { haystack[$0..<$0 + needle.count].elementsEqual(needle) } : nil
            #expect(MultipartForm.find(needle, in: haystack, from: start) == naive,
                    "\(String(decoding: needle, as: UTF8.self)) in \(String(decoding: haystack, as: UTF8.self)) from \(start)")
        }
    }

    @Test func uploadKinds() throws {
        #expect(try ImageUpload(contentType: "image/JPEG") == .image)
        #expect(try ImageUpload(contentType: "image/png") == .image)
        #expect(try ImageUpload(contentType: "multipart/form-data; boundary=q") == .multipart(boundary: "q"))
        #expect(throws: ServerError.unsupportedMediaType(received: "application/json", accepted: ImageUpload.acceptedTypes)) {
            try ImageUpload(contentType: "application/json")
        }
    }
}
