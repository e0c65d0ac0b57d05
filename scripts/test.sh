#!/usr/bin/env bash
# Runs the whole test suite (installs missing system packages first, Chromium for the web page test among them).
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser test of the web page needs Chromium and Selenium; the Keras import tests need h5py and NumPy.
scripts/setup.sh chromium chromium-driver python3-selenium python3-h5py python3-numpy
swift build --build-tests
swift test --skip-build "$@"
