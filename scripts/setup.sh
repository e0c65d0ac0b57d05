#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Emovere needs when they are missing (needs root or sudo).
# Usage: scripts/setup.sh [extra packages...]; an extra package written ?name is installed only where the
# distribution has it (chromium: Debian has it, Ubuntu only as a snap, which containers cannot run).
set -euo pipefail
command -v swift >/dev/null || { echo "swift not found: install Swift 6 from https://swift.org/install" >&2; exit 1; }
# Package.swift needs tools version 6.0: an older toolchain would fail later, in the build, with less to go on.
swift_version=$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9][0-9]*\)\..*/\1/p' | head -n 1)
if [ -z "$swift_version" ] || [ "$swift_version" -lt 6 ]; then
    echo "Swift 6 or later is needed, found: $(swift --version 2>&1 | head -n 1); install it from https://swift.org/install" >&2
    exit 1
fi
packages=(pkg-config libopenblas-dev libturbojpeg0-dev libpng-dev libhdf5-dev)
optional=()
for package in "$@"; do
    if [[ $package == \?* ]]; then optional+=("${package#\?}"); else packages+=("$package"); fi
done
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
# A package with an installation candidate in apt's lists (a virtual or snap-transitional name has none, or "(none)").
installable() {
    local candidate
    candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}
note_unpackaged() { echo "note: $1 is not packaged here; the tests that need it are skipped"; }
missing=()
for package in "${packages[@]}"; do installed "$package" || missing+=("$package"); done
# An optional package the lists already say is not packaged here (Ubuntu's chromium) needs no sudo and no update;
# with no lists yet (a fresh container) it is looked up again after the update.
have_lists=false
compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null && have_lists=true
missing_optional=()
for package in "${optional[@]+"${optional[@]}"}"; do
    installed "$package" && continue
    if $have_lists && ! installable "$package"; then note_unpackaged "$package"; else missing_optional+=("$package"); fi
done
[ ${#missing[@]} -gt 0 ] || [ ${#missing_optional[@]} -gt 0 ] || exit 0
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "missing packages: ${missing[*]} ${missing_optional[*]}; run this script as root or install sudo" >&2
        exit 1
    }
    sudo=(sudo)
fi
# A freshly booted machine's automatic upgrades may hold apt's locks for a while: wait for them rather than fail
# (install waits for dpkg's lock by itself; update does not wait for the lists' lock, so it is tried again).
apt=(apt-get -o DPkg::Lock::Timeout=600)
tries=0
until output=$("${sudo[@]+"${sudo[@]}"}" "${apt[@]}" update -qq 2>&1); do
    tries=$((tries + 1))
    if [[ $output != *"Could not get lock"* ]] || [ "$tries" -ge 60 ]; then echo "$output" >&2; exit 1; fi
    echo "waiting for apt's lock (another apt is running), try $tries of 60" >&2
    sleep 10
done
[ -z "$output" ] || echo "$output"
for package in "${missing_optional[@]+"${missing_optional[@]}"}"; do
    if installable "$package"; then missing+=("$package"); else note_unpackaged "$package"; fi
done
[ ${#missing[@]} -gt 0 ] || exit 0
echo "installing: ${missing[*]}"
"${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq "${missing[@]}"
