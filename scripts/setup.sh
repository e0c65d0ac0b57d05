#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Emovere needs when they are missing (needs root or sudo).
# Usage: scripts/setup.sh [extra packages...]; an extra package written ?name is installed only where the
# distribution has it (chromium: Debian has it, Ubuntu only as a snap, which containers cannot run).
set -euo pipefail
command -v swift >/dev/null || { echo "swift not found: install Swift 6 from https://swift.org/install" >&2; exit 1; }
packages=(pkg-config libopenblas-dev libturbojpeg0-dev libpng-dev libhdf5-dev)
optional=()
for package in "$@"; do
    if [[ $package == \?* ]]; then optional+=("${package#\?}"); else packages+=("$package"); fi
done
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
missing=()
for package in "${packages[@]}"; do installed "$package" || missing+=("$package"); done
missing_optional=()
for package in "${optional[@]+"${optional[@]}"}"; do installed "$package" || missing_optional+=("$package"); done
[ ${#missing[@]} -gt 0 ] || [ ${#missing_optional[@]} -gt 0 ] || exit 0
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "missing packages: ${missing[*]} ${missing_optional[*]}; run this script as root or install sudo" >&2
        exit 1
    }
    sudo=(sudo)
fi
"${sudo[@]+"${sudo[@]}"}" apt-get update -qq
for package in "${missing_optional[@]+"${missing_optional[@]}"}"; do
    # A package with an installation candidate (a virtual or snap-transitional name has none, or "(none)").
    candidate=$(apt-cache policy "$package" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; then
        missing+=("$package")
    else
        echo "note: $package is not packaged here; the tests that need it are skipped"
    fi
done
[ ${#missing[@]} -gt 0 ] || exit 0
echo "installing: ${missing[*]}"
"${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
