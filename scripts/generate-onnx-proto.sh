#!/usr/bin/env bash
# Regenerates Sources/EmovereONNX/Generated/onnx.pb.swift, the Swift types of ONNX's protobuf schema.
# The file is generated once and committed, so normal builds need neither protoc nor the SwiftPM
# protobuf plugin. It was produced from onnx/onnx.proto of the onnx 1.23.2 wheel (PyPI) with
# protoc 3.21.12 (Debian bookworm's protobuf-compiler) and protoc-gen-swift 1.39.0, built from
# apple/swift-protobuf at the tag the package depends on (Visibility=Internal).
# Usage: scripts/generate-onnx-proto.sh [onnx version] [swift-protobuf tag]
set -euo pipefail
cd "$(dirname "$0")/.."
onnx_version="${1:-1.23.2}"
protobuf_tag="${2:-1.39.0}"
scratch="$(mktemp -d /tmp/emovere-onnx-proto.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT

command -v protoc >/dev/null || scripts/setup.sh protobuf-compiler
python3 -m pip download "onnx==$onnx_version" --no-deps -d "$scratch/wheel"
python3 -m zipfile -e "$scratch"/wheel/onnx-*.whl "$scratch/onnx"

git clone --quiet https://github.com/apple/swift-protobuf "$scratch/swift-protobuf"
git -C "$scratch/swift-protobuf" checkout --quiet "$protobuf_tag"
swift build --package-path "$scratch/swift-protobuf" -c release --product protoc-gen-swift

mkdir -p "$scratch/out"
(cd "$scratch/onnx" && protoc --plugin=protoc-gen-swift="$scratch/swift-protobuf/.build/release/protoc-gen-swift" \
    --swift_opt=Visibility=Internal --swift_out="$scratch/out" onnx/onnx.proto)
cp "$scratch/out/onnx/onnx.pb.swift" Sources/EmovereONNX/Generated/onnx.pb.swift
echo "wrote Sources/EmovereONNX/Generated/onnx.pb.swift (onnx $onnx_version, protoc $(protoc --version), protoc-gen-swift $protobuf_tag)"
