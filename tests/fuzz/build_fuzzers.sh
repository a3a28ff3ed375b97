#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (the meson build uses gcc, which has no libFuzzer):
#   tests/fuzz/build_fuzzers.sh OUTDIR
# Library sources are compiled once into OUTDIR/obj with ASan + UBSan (UB aborts), then each
# target links the objects of the modules it exercises. No DPDK. CXX_FUZZ overrides clang++.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$(mkdir -p "$1" && cd "$1" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cxx=${CXX_FUZZ:-clang++}
jobs=$(nproc)

sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
read -r -a deps_cflags <<<"$(pkg-config --cflags libsodium libb2 yaml-cpp)"
read -r -a deps_libs <<<"$(pkg-config --libs libsodium libb2 yaml-cpp)"
cxxflags=(-std=c++20 -g -O1 $sanitize -I "$root/lib" -I "$root/drivers" -I "$root/tests/fuzz"
          "${deps_cflags[@]}")

# Module sources each target needs (paths under lib/).
proto_hs="proto/blake2s.cpp proto/cookie.cpp proto/messages.cpp proto/noise.cpp proto/tai64n.cpp"
session=$(cd "$root/lib" && ls session/*.cpp)
config=$(cd "$root/lib" && ls config/*.cpp)
declare -A target_sources=(
    [fuzz_outer_packet]="proto/messages.cpp"
    [fuzz_handshake_responder]="$proto_hs"
    [fuzz_control_message]="proto/control_messages.cpp proto/messages.cpp"
    [fuzz_config]="$config $session"
    [fuzz_audit_line]="telemetry/audit_json.cpp telemetry/audit_check.cpp $session"
)

mkdir -p "$out/obj"
object_of() { echo "$out/obj/$(echo "$1" | tr / _).o"; }

# Every library source any target needs, compiled once, in parallel.
all_sources=$(printf '%s\n' "${target_sources[@]}" | tr ' ' '\n' | sed '/^$/d' | sort -u)
export cxx out root
export cxxflags_str="${cxxflags[*]} -fsanitize=fuzzer-no-link"
printf '%s\n' $all_sources | xargs -P "$jobs" -I{} bash -c '
    src={}; obj="$out/obj/$(echo "$src" | tr / _).o"
    $cxx $cxxflags_str -c "$root/lib/$src" -o "$obj"'

build_target() {
    local target=$1 objs=()
    for src in ${target_sources[$target]}; do
        objs+=("$(object_of "$src")")
    done
    "$cxx" "${cxxflags[@]}" -fsanitize=fuzzer "$root/tests/fuzz/$target.cpp" "${objs[@]}" \
        "${deps_libs[@]}" -o "$out/$target"
    echo "built $out/$target"
}

pids=()
for target in "${!target_sources[@]}"; do
    build_target "$target" &
    pids+=($!)
    if (( ${#pids[@]} >= jobs )); then
        wait "${pids[0]}"
        pids=("${pids[@]:1}")
    fi
done
for pid in "${pids[@]}"; do
    wait "$pid"
done

# The seed generator for the handshake corpus (a plain program, no fuzzer runtime).
"$cxx" "${cxxflags[@]}" "$root/tests/fuzz/make_handshake_seeds.cpp" \
    $(for src in $proto_hs; do object_of "$src"; done) "${deps_libs[@]}" \
    -fsanitize=fuzzer-no-link -o "$out/make_handshake_seeds"
echo "built $out/make_handshake_seeds"
