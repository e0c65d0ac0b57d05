#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Emovere needs when they are missing (needs root or sudo).
# Usage: scripts/setup.sh [extra packages...]
set -euo pipefail
packages=(pkg-config libopenblas-dev libturbojpeg0-dev libpng-dev libhdf5-dev opencv-data ffmpeg "$@")
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
command -v swift >/dev/null || { echo "swift not found: install Swift 6 from https://swift.org/install" >&2; exit 1; }
