#!/usr/bin/env bash
# Runs the whole test suite (installs missing system packages first, Chromium for the web page test and HAProxy for
# the load-balancing test among them, and the Python packages onnxruntime, numpy and opencv-python-headless for the
# ONNX and detector twin tests, and Ray Data for the scale-out test), then the scale-out test on a local Ray cluster
# and two serve replicas behind HAProxy, each restarted under load.
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser test of the web page needs Chromium and Selenium; the Keras import tests need h5py and NumPy; the
# load-balancing test needs HAProxy and PyYAML (for the Kubernetes manifests).
scripts/setup.sh chromium chromium-driver python3-selenium python3-h5py python3-numpy python3-pip haproxy python3-yaml
# The ONNX tests run models in ONNX Runtime, and the YuNet twin tests run OpenCV's FaceDetectorYN
# (neither packaged by Debian in a recent enough version).
python3 -c "import onnxruntime, numpy, cv2; cv2.FaceDetectorYN" 2>/dev/null \
    || python3 -m pip install --user --break-system-packages --quiet onnxruntime numpy "opencv-python-headless<5"
python3 -c "import yaml" 2>/dev/null || python3 -m pip install --user --break-system-packages --quiet pyyaml
# The scale-out test starts a local Ray cluster (Ray Data from PyPI; orchestration only).
python3 -c "import ray.data" 2>/dev/null \
    || python3 -m pip install --user --break-system-packages --quiet "ray[data]==2.60.0"
python3 scripts/check_imports.py  # every import declared in Package.swift
swift build --build-tests
swift test --skip-build "$@"
if [ "$#" -eq 0 ]; then
    python3 scripts/test_ray_analyze.py --emovere .build/debug/emovere --photos 200
    python3 scripts/test_load_balanced.py --emovere .build/debug/emovere
fi
