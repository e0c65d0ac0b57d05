#!/usr/bin/env bash
# Builds and runs a tiny package that depends on Emovere the way another project would:
# `.package(url:from:)` on a tagged clone of this repository (SwiftPM refuses versioned dependencies whose
# targets carry unsafe flags, so this also proves the package has none). Uses a scratch folder; leaves nothing.
set -euo pipefail
repository="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
git clone --quiet "$repository" "$scratch/emovere"
git -C "$scratch/emovere" tag 99.0.0
mkdir -p "$scratch/consumer/Sources/consumer"
cat > "$scratch/consumer/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "consumer",
    platforms: [.macOS(.v15)],
    dependencies: [.package(url: "file://$scratch/emovere", from: "99.0.0")],
    targets: [.executableTarget(name: "consumer", dependencies: [.product(name: "Emovere", package: "emovere")])]
)
SWIFT
cat > "$scratch/consumer/Sources/consumer/main.swift" <<'SWIFT'
import Emovere
import EmovereData
import EmovereTensor

// Every class in the FER2013 order, and a kernel run through the instruction set chosen for this CPU.
print(Emotion.allCases.map(\.name).joined(separator: " "))
print("kernels: \(InstructionSet.detected)")
SWIFT
cd "$scratch/consumer"
swift build
output="$(swift run --skip-build consumer)"
echo "$output"
grep -q "angry disgust fear happy sad surprise neutral" <<<"$output"
echo "consumer package built against Emovere 99.0.0: ok"
