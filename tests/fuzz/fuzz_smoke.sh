#!/usr/bin/env bash
# Meson test 'fuzz-smoke': builds every fuzz target into a temporary directory and runs each
# for SECONDS (20 by default; tests/run_all.sh passes 60) from its seed corpus, as many at once
# as there are CPUs. Exit 77 (skipped) without clang++ or its libFuzzer runtime.
#   fuzz_smoke.sh SOURCE_ROOT [SECONDS]
set -uo pipefail

root=${1:?usage: fuzz_smoke.sh SOURCE_ROOT [SECONDS]}
seconds=${2:-20}
cxx=${CXX_FUZZ:-clang++}

if ! command -v "$cxx" >/dev/null 2>&1; then
    echo "SKIP: $cxx not found"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The runtime ships separately (libclang-rt-NN-dev): probe it with a trivial target.
printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
    'extern "C" int LLVMFuzzerTestOneInput(const uint8_t *, size_t) { return 0; }' \
    >"$work/probe.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$work/probe.cpp" -o "$work/probe" \
    >"$work/probe.log" 2>&1; then
    echo "SKIP: $cxx cannot link a libFuzzer target:"
    cat "$work/probe.log"
    exit 77
fi

"$root/tests/fuzz/build_fuzzers.sh" "$work/out" || exit 1
"$root/tests/fuzz/run_fuzzers.sh" "$work/out" "$seconds"
rc=$?
if [[ $rc -ne 0 ]]; then
    # The build directory goes away with this test: put each reproducer in the log whole
    # (inputs are at most a few KiB), so `base64 -d` gives back the exact file to debug.
    for f in "$work"/out/findings/*/*; do
        [[ -f $f ]] || continue
        echo "reproducer $f ($(wc -c <"$f") bytes, base64):"
        base64 -w 76 "$f"
    done
fi
exit $rc
