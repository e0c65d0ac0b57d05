import Testing
import EmovereData

struct SplitTests {
    @Test func parsesCommandLineNames() {
        #expect(Split(argument: "training") == .training)
        #expect(Split(argument: "Train") == .training)
        #expect(Split(argument: "PublicTest") == .publicTest)
        #expect(Split(argument: "public-test") == .publicTest)
        #expect(Split(argument: "test") == .publicTest)
        #expect(Split(argument: "val") == .publicTest)
        #expect(Split(argument: "private_test") == .privateTest)
        #expect(Split(argument: "PRIVATETEST") == .privateTest)
        #expect(Split(argument: "everything") == nil)
    }

    @Test func parsesUsageValues() {
        #expect(Split(usage: "Training") == .training)
        #expect(Split(usage: " \"PublicTest\" ") == .publicTest)
        #expect(Split(usage: "PrivateTest\r") == .privateTest)
        #expect(Split(usage: "Train") == nil)
        #expect(Split.allCases.map(\.usage) == ["Training", "PublicTest", "PrivateTest"])
    }
}
