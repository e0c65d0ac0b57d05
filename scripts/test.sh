#!/usr/bin/env bash
# Runs the whole test suite (installs missing system packages first, Chromium for the web page test among them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh chromium chromium-driver python3-selenium   # the browser test of the web page needs them
swift build --build-tests
swift test --skip-build "$@"
