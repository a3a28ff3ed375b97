#!/usr/bin/env bash
# Quick start on a fresh Debian 12 machine (run as root): installs the packages, builds
# jumpgate and runs the demo: the gateway on its embedded demo configuration (virtual devices,
# no NIC, no hugepages) with a stock WireGuard client namespace pinging a protected host
# through it, until Ctrl-C. Extra arguments go to the gateway (e.g. --duration-s 10).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
BUILD=${JG_BUILD_DIR:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dbuildtype=release -Dtests=false -Dperf=false >/dev/null
ninja -C "$BUILD" app/jumpgate/jumpgate app/jumpgatectl/jumpgatectl
echo "starting the jumpgate demo; 'ip link show jg-outer' in another shell shows its TAP port"
exec bash deploy/demo.sh "$BUILD/app/jumpgate/jumpgate" "$@"
