#!/usr/bin/env bash
# Longer fuzzing than the test suite runs (not part of CI):
#   1. the seeded mutation fuzz tests (`*FuzzTests`: JPEG/PNG decoding, cascade XML, FER2013 CSV, model files,
#      multipart bodies, WebSocket frames) with CASES cases per input kind instead of a few thousand;
#   2. libFuzzer, coverage-guided, on the image decoders, the cascade reader and the model-file loader for SECONDS
#      each, when this toolchain supports -sanitize=fuzzer (Swift on Linux does). Crashes are left in
#      $OUT (default: fuzz-findings/ in the repository, ignored by git) as <target>-crash-* files (the inputs that crashed,
#      to replay through the loaders); the harness's build and corpora live in a scratch folder removed on exit.
# Usage: scripts/fuzz.sh [CASES] [SECONDS]
set -euo pipefail
cases="${1:-100000}"
seconds="${2:-60}"
repository="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repository"

echo "== seeded mutation fuzz tests, $cases cases each"
EMOVERE_FUZZ_CASES="$cases" swift test --filter 'FuzzTests'

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
out="${OUT:-$repository/fuzz-findings}"
mkdir -p "$out"
if ! echo 'func probe() {}' > "$scratch/probe.swift" || ! swiftc -sanitize=fuzzer -parse-as-library -emit-object \
    -o "$scratch/probe.o" "$scratch/probe.swift" >/dev/null 2>&1; then
    echo "== this toolchain has no -sanitize=fuzzer: libFuzzer runs skipped"
    exit 0
fi

echo "== libFuzzer harness (scratch: $scratch)"
identity="$(basename "$repository" | tr '[:upper:]' '[:lower:]')"  # SwiftPM names a path dependency by its folder
mkdir -p "$scratch/harness/Sources/emovere-fuzz"
cat > "$scratch/harness/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "harness",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "$repository")],
    targets: [.executableTarget(name: "emovere-fuzz", dependencies: [.product(name: "Emovere", package: "$identity")])]
)
SWIFT
cat > "$scratch/harness/Sources/emovere-fuzz/main.swift" <<'SWIFT'
import Emovere
import EmovereVision
import Foundation

// One libFuzzer harness; EMOVERE_FUZZ_TARGET picks what the bytes are fed to. Any error thrown is an accepted
// outcome; a crash, a hang or unbounded memory is a finding.
let target = ProcessInfo.processInfo.environment["EMOVERE_FUZZ_TARGET"] ?? "image"
let scratchModel = NSTemporaryDirectory() + "emovere-fuzz-\(getpid()).safetensors"

func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    switch target {
    case "cascade":
        _ = try? HaarCascade(xmlBytes: bytes, source: "input")
    case "model":
        if FileManager.default.createFile(atPath: scratchModel, contents: Data(bytes)) {
            _ = try? ModelFile.load(scratchModel)
        }
    default:
        _ = try? RGBImage(decoding: bytes, source: "input", limits: ImageLimits(maximumPixels: 1 << 22))
    }
    return 0
}

// SwiftPM makes this file the program's entry point, so libFuzzer is started through its driver function.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argc, &argv) { fuzz($0, $1) })
SWIFT
(cd "$scratch/harness" && swift build -c release -Xswiftc -sanitize=fuzzer -Xswiftc -use-ld=lld)  # gold fails on this link
harness="$scratch/harness/.build/release/emovere-fuzz"
for kind in image cascade model; do
    corpus="$scratch/corpus-$kind"
    mkdir -p "$corpus"
    case "$kind" in
        image) cp samples/astronaut.jpg Tests/EmovereVisionTests/Fixtures/cmyk.jpg Tests/EmovereVisionTests/Fixtures/chelsea_gray.png "$corpus/" ;;
        cascade) cp Tests/EmovereVisionTests/Fixtures/haarcascade_frontalface_default.xml "$corpus/" ;;
        model) cp models/tiny.safetensors "$corpus/" ;;
    esac
    echo "== libFuzzer: $kind, ${seconds}s"
    # A finding makes libFuzzer exit non-zero: noted, and the other targets still run.
    EMOVERE_FUZZ_TARGET="$kind" "$harness" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$out/$kind-" "$corpus" 2>&1 | tail -n 3 || echo "== libFuzzer: $kind stopped on a finding"
done
echo "findings (crash-*, timeout-*, oom-* files): $out"
ls "$out"
