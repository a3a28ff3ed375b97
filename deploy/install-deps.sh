#!/usr/bin/env bash
# Installs the Debian 12 packages jumpgate builds, tests and runs with.
# Idempotent: packages already present are skipped, so CI pays for apt only once per machine.
set -euo pipefail

BUILD_PKGS=(
  build-essential pkg-config meson ninja-build clang clang-format libclang-rt-14-dev
  dpdk-dev libdpdk-dev libipsec-mb-dev libsodium-dev prometheus-cpp-dev libb2-dev
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libbenchmark-dev libgtest-dev libgmock-dev
  libnuma-dev libpcap-dev libbsd-dev libjansson-dev libelf-dev
)
RUN_PKGS=(
  iproute2 nftables wireguard-go wireguard-tools iperf3 iputils-ping prometheus
  python3 python3-matplotlib python3-yaml jq tcpdump bc systemd curl procps
)

want=()
for p in "${BUILD_PKGS[@]}" "${RUN_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || want+=("$p")
done
if ((${#want[@]})); then
  echo "install-deps: installing ${#want[@]} packages: ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # prometheus starts a system service on install; jumpgate's tests run their own instance.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
echo "install-deps: all packages present"
