#!/usr/bin/env bash
# Runs the whole test suite on a Debian 12 machine (as root: DPDK, TAP devices, namespaces):
# installs missing packages, checks formatting, builds with -Werror, runs the unit, DPDK-tier,
# end-to-end and benchmark-smoke suites, then the ASan+UBSan build of the unit tests.
# Ends with 'N passed, N failed' counted over every suite.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${JG_BUILD_DIR:-$ROOT/build-ci}
ASAN_BUILD=${JG_ASAN_BUILD_DIR:-$ROOT/build-asan}
JOBS=$(nproc)
status=0

step() { printf '\n==== %s (%s)\n' "$*" "$(date +%T)"; }

step "dependencies"
bash deploy/install-deps.sh || { echo "dependency install failed"; echo "0 passed, 1 failed"; exit 1; }

step "formatting"
unformatted=$(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' | xargs -r clang-format --dry-run -Werror 2>&1 | grep -oE '^[^:]+\.(cpp|hpp|h|cc)' | sort -u)
if [ -n "$unformatted" ]; then
  echo "not clang-formatted:"; echo "$unformatted" | sed 's/^/  /'
  format_failed=1
else
  echo "all sources formatted"
fi

step "build (-Werror)"
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" -Dwerror=true -Dbuildtype=debugoptimized >/dev/null || status=1
fi
ninja -C "$BUILD" -j"$JOBS" || status=1

run_suite() {  # build dir, suite, extra args
  local bd=$1 suite=$2; shift 2
  step "suite $suite ($(basename "$bd"))"
  meson test -C "$bd" --no-rebuild --suite "$suite" --print-errorlogs "$@" || true
}

# Each suite writes its own log; summarize.py reads them all.
if [ $status -eq 0 ]; then
  for s in unit dpdk e2e perf; do
    run_suite "$BUILD" "$s" --logbase "testlog-$s" 
  done
fi

step "ASan+UBSan build of the unit tests"
if [ ! -f "$ASAN_BUILD/build.ninja" ]; then
  meson setup "$ASAN_BUILD" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Ddpdk_tests=false -Dperf=false -Dbuildtype=debug >/dev/null || status=1
fi
asan_ok=1
# Only what the unit suite runs: the rest (DPDK data plane, benchmarks) is not run here.
asan_targets=$(python3 .ci/suite_targets.py "$ASAN_BUILD" unit) || { status=1; asan_ok=0; }
[ $asan_ok -eq 1 ] && { ninja -C "$ASAN_BUILD" -j"$JOBS" $asan_targets || { status=1; asan_ok=0; }; }
if [ $asan_ok -eq 1 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suite "$ASAN_BUILD" unit --logbase "testlog-unit" --timeout-multiplier 5
fi

step "summary"
logs=()
for bd in "$BUILD" "$ASAN_BUILD"; do
  for f in "$bd"/meson-logs/testlog-*.json; do [ -f "$f" ] && logs+=("$f"); done
done
extra_failed=0
[ "${format_failed:-0}" = 1 ] && { echo "FAILED formatting check"; extra_failed=$((extra_failed + 1)); }
[ $status -ne 0 ] && { echo "FAILED a build step"; extra_failed=$((extra_failed + 1)); }
python3 .ci/summarize.py --extra-failed "$extra_failed" "${logs[@]}"
