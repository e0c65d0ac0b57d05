#!/usr/bin/env bash
# Runs the whole test suite (installs missing system packages first, Chromium for the web page test and HAProxy for
# the load-balancing test among them, and the Python packages onnxruntime, numpy and opencv-python-headless for the
# ONNX and detector twin tests, and Ray Data for the scale-out test), then the scale-out test on a local Ray cluster
# and two serve replicas behind HAProxy, each restarted under load.
set -euo pipefail
cd "$(dirname "$0")/.."
# The detector tests need OpenCV's cascades and the video tests ffmpeg; the browser test of the web page needs
# Chromium (Debian's; Ubuntu has it only as a snap, and the test is then skipped) and Selenium; the Keras import tests
# need h5py and NumPy; the load-balancing test needs HAProxy and PyYAML (for the Kubernetes manifests); a video test
# finds ffprobe among emovere's children with pgrep (procps).
scripts/setup.sh opencv-data ffmpeg '?chromium' '?chromium-driver' python3-selenium python3-h5py python3-numpy \
    python3-pip haproxy python3-yaml curl procps
# Installs Python packages for interpreter $1: into its virtual environment when it runs in one, else for the user.
# pip 23.0.1 and later refuse the latter for a distribution's Python (Debian 12, Ubuntu 24.04) without
# --break-system-packages, which older pip (Ubuntu 22.04) does not know.
pip_install() {
    local python=$1 flags=(--quiet)
    shift
    if "$python" -c 'import sys; sys.exit(sys.prefix != sys.base_prefix)'; then
        flags+=(--user)
        # grep reads all of the help (with -q it would stop early, and pipefail would see pip's SIGPIPE).
        if "$python" -m pip install --help | grep -- --break-system-packages >/dev/null; then
            flags+=(--break-system-packages)
        fi
    fi
    "$python" -m pip install "${flags[@]}" "$@"
}
# The ONNX tests run models in ONNX Runtime, and the YuNet twin tests run OpenCV's FaceDetectorYN
# (neither packaged by Debian in a recent enough version).
python3 -c "import onnxruntime, numpy, cv2; cv2.FaceDetectorYN" 2>/dev/null \
    || pip_install python3 onnxruntime numpy "opencv-python-headless<5"
# The Keras fixtures are written by Debian's /usr/bin/python3. When NumPy 2 came from PyPI for it (above, when it is
# the python3 on PATH), Debian's h5py, built for NumPy 1, cannot load: h5py then comes from PyPI too.
/usr/bin/python3 -c "import h5py, numpy" 2>/dev/null || pip_install /usr/bin/python3 h5py numpy
python3 -c "import yaml" 2>/dev/null || pip_install python3 pyyaml
# The scale-out test starts a local Ray cluster (Ray Data from PyPI; orchestration only).
python3 -c "import ray.data" 2>/dev/null || pip_install python3 "ray[data]==2.60.0"
python3 scripts/check_imports.py  # every import declared in Package.swift
started=$SECONDS
swift build --build-tests
echo "took $((SECONDS - started)) s: swift build --build-tests" >&2
# Each step has a time limit far beyond its need on a busy 2-core machine (README.md gives the last measured times),
# so a hang fails the run by name instead of using up CI's time.
# timeout runs the step in a process group of its own, which a Ctrl-C at the terminal does not reach: an interrupt or
# termination of this script is passed on to it (as SIGTERM: a background job ignores SIGINT), and the script stops.
limit() {
    local minutes=$1 status=0 started=$SECONDS pid
    shift
    timeout -k 60 "${minutes}m" "$@" &
    pid=$!
    trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" || true; echo "interrupted: $*" >&2; exit 130' INT TERM
    wait "$pid" || status=$?
    trap - INT TERM
    if [ "$status" -eq 124 ] || { [ "$status" -eq 137 ] && [ $((SECONDS - started)) -ge $((minutes * 60)) ]; }; then
        echo "timed out after $minutes minutes: $*" >&2
    fi
    # Each step's time, so a run's log shows where CI's 20 minutes go.
    echo "took $((SECONDS - started)) s (exit $status): $*" >&2
    return "$status"
}
if [ "$#" -gt 0 ]; then
    swift test --skip-build "$@"
else
    # The in-process server tests run after the others. Synchronous tests (the command-line ones wait minutes for
    # their child processes) each hold one of Swift concurrency's threads, one per core; beside them a server in the
    # test process waited 20-90 s for a thread, past its own timeouts (2 cores, 2026-12-06).
    limit 45 swift test --skip-build --skip EmovereServerTests
    limit 30 swift test --skip-build --filter EmovereServerTests
    limit 25 python3 scripts/test_ray_analyze.py --emovere .build/debug/emovere --photos 200
    limit 20 python3 scripts/test_load_balanced.py --emovere .build/debug/emovere
fi
