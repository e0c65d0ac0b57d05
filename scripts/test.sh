#!/usr/bin/env bash
# Runs the whole test suite (installs missing system packages first, Chromium for the web page test among them,
# and the Python packages onnxruntime and numpy for the ONNX export tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser test of the web page needs Chromium and Selenium; the Keras import tests need h5py and NumPy.
scripts/setup.sh chromium chromium-driver python3-selenium python3-h5py python3-numpy python3-pip
# The ONNX export tests run the exported models in ONNX Runtime (not packaged by Debian).
python3 -c "import onnxruntime, numpy" 2>/dev/null \
    || python3 -m pip install --user --break-system-packages --quiet onnxruntime numpy
swift build --build-tests
swift test --skip-build "$@"
