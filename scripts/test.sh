#!/usr/bin/env bash
# Runs the whole test suite (installs missing system packages first, Chromium for the web page test among them,
# and the Python packages onnxruntime and numpy for the ONNX export tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh chromium chromium-driver python3-selenium python3-pip   # the browser test and pip need them
# The ONNX export tests run the exported models in ONNX Runtime (not packaged by Debian).
python3 -c "import onnxruntime, numpy" 2>/dev/null \
    || python3 -m pip install --user --break-system-packages --quiet onnxruntime numpy
swift build --build-tests
swift test --skip-build "$@"
