#!/usr/bin/env bash
# Runs the whole test suite on a Debian 12 machine (as root: DPDK, TAP devices, namespaces):
# installs missing packages, checks formatting, builds with -Werror, runs the unit, DPDK-tier,
# end-to-end and benchmark-smoke suites, the fuzz targets (60 s each), the ASan+UBSan build of
# the unit and DPDK-tier tests, and the ThreadSanitizer build of the concurrent table tests.
# Ends with 'N passed, N failed' counted over every suite.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${JG_BUILD_DIR:-$ROOT/build-ci}
ASAN_BUILD=${JG_ASAN_BUILD_DIR:-$ROOT/build-asan}
TSAN_BUILD=${JG_TSAN_BUILD_DIR:-$ROOT/build-tsan}
FUZZ_SECONDS=${JG_FUZZ_SECONDS:-60}
JOBS=$(nproc)
status=0

step() { printf '\n==== %s (%s)\n' "$*" "$(date +%T)"; }

step "dependencies"
bash deploy/install-deps.sh || { echo "dependency install failed"; echo "0 passed, 1 failed"; exit 1; }

step "formatting"
# A checker that could not run (no clang-format, an unreadable .clang-format) fails the step
# rather than reading as "nothing unformatted".
format_log=$(mktemp)
if git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' | xargs -r clang-format --dry-run -Werror > "$format_log" 2>&1; then
  echo "all sources formatted"
else
  unformatted=$(grep -oE '^[^:]+\.(cpp|hpp|h|cc)' "$format_log" | sort -u)
  if [ -n "$unformatted" ]; then
    echo "not clang-formatted:"; echo "$unformatted" | sed 's/^/  /'
  else
    echo "formatting check did not run:"; head -n 5 "$format_log"
  fi
  format_failed=1
fi
rm -f "$format_log"

step "build (-Werror)"
# -O2 without debug information: the sanitizer trees keep it for the reports that need lines,
# and leaving it out here takes about 40 % off the largest step of the run.
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" -Dwerror=true -Dbuildtype=debugoptimized -Ddebug=false >/dev/null || status=1
fi
ninja -C "$BUILD" -j"$JOBS" || status=1

# Logs left by an earlier run in the same tree must not be counted as this run's.
for bd in "$BUILD" "$ASAN_BUILD" "$TSAN_BUILD"; do rm -f "$bd"/meson-logs/testlog-*; done

# Each suite writes its own log (testlog-<suite>.json); summarize.py reads them all, with the
# exit code of the meson run that wrote each, so a run that stopped early still counts.
suite_results=()
run_suite() {  # build dir, suite, extra args
  local bd=$1 suite=$2; shift 2
  step "suite $suite ($(basename "$bd"))"
  meson test -C "$bd" --no-rebuild --suite "$suite" --print-errorlogs --logbase "testlog-$suite" "$@"
  suite_results+=("$bd/meson-logs/testlog-$suite.json=$?")
}

# The sanitizer trees build in the background while the suites below run (the end-to-end
# suite mostly waits on timers and sockets). Their own session gets the lowest autogroup
# weight, so a test that needs the CPU gets it before the compiler does.
sanitizer_builds() {
  echo 19 > /proc/self/autogroup 2>/dev/null || true
  local rc=0
  # Exit code: bit 0 set when the ASan build failed, bit 1 when the TSan build failed.
  if [ ! -f "$ASAN_BUILD/build.ninja" ]; then
    # Unity: one compile per target instead of one per file, about half the CPU on 2 cores.
    meson setup "$ASAN_BUILD" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
      -Dperf=false -Dbuildtype=debug -Dunity=on >/dev/null || rc=1
  else
    meson configure "$ASAN_BUILD" -Ddpdk_tests=true >/dev/null || rc=1
  fi
  # Only what the two suites run: the rest (end-to-end, benchmarks) is not run there.
  local targets
  if [ $rc -eq 0 ]; then
    targets=$(python3 .ci/suite_targets.py "$ASAN_BUILD" unit && python3 .ci/suite_targets.py "$ASAN_BUILD" dpdk) || rc=1
  fi
  [ $rc -eq 0 ] && { ninja -C "$ASAN_BUILD" -j"$JOBS" $targets || rc=1; }
  if [ ! -f "$TSAN_BUILD/build.ninja" ]; then
    meson setup "$TSAN_BUILD" -Dwerror=true -Db_sanitize=thread -Db_lundef=false \
      -Dperf=false -Dbuildtype=debugoptimized >/dev/null || return $((rc | 2))
  fi
  ninja -C "$TSAN_BUILD" -j"$JOBS" tests/dpdk/dpdk_tables_test tests/dpdk/dpdk_tables_concurrent_test \
    tests/dpdk/dpdk_host_table4_test || rc=$((rc | 2))
  return $rc
}
SAN_LOG=$ROOT/sanitizer-build.log
sanitizer_pid=""
sanitizer_started=""
if [ $status -eq 0 ]; then
  step "sanitizer builds start in the background (log: $(basename "$SAN_LOG"))"
  setsid bash -c "$(declare -f sanitizer_builds); ROOT='$ROOT' ASAN_BUILD='$ASAN_BUILD' TSAN_BUILD='$TSAN_BUILD' JOBS='$JOBS'; cd '$ROOT'; sanitizer_builds" \
    > "$SAN_LOG" 2>&1 &
  sanitizer_pid=$!
  sanitizer_started=1
  # Its own session: a run stopped by a signal stops it by its group, or it compiles on.
  # (SIGKILL cannot be caught; the build then ends when its compiler jobs do.)
  trap '[ -n "$sanitizer_pid" ] && kill -- -"$sanitizer_pid" 2>/dev/null' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
fi

if [ $status -eq 0 ]; then
  for s in unit dpdk e2e perf; do
    run_suite "$BUILD" "$s"
  done
fi

# libFuzzer targets (clang, ASan+UBSan), FUZZ_SECONDS each, as many at once as there are CPUs.
if [ $status -eq 0 ]; then
  run_suite "$BUILD" fuzz --test-args "$FUZZ_SECONDS"
fi

step "sanitizer builds (waiting for the background build)"
san_rc=3  # no background build ran: neither sanitizer tree is this run's
if [ -n "$sanitizer_pid" ]; then
  wait "$sanitizer_pid"; san_rc=$?
  sanitizer_pid=""
  tail -n 3 "$SAN_LOG"
fi
asan_ok=$(( san_rc & 1 ? 0 : 1 )); tsan_ok=$(( san_rc & 2 ? 0 : 1 ))
[ $san_rc -gt 3 ] && { asan_ok=0; tsan_ok=0; }
if [ -z "$sanitizer_started" ]; then
  status=1; echo "sanitizer builds not started: the -Werror build failed"
else
  [ $asan_ok -eq 1 ] || { status=1; echo "ASan+UBSan build failed (see $SAN_LOG)"; }
  [ $tsan_ok -eq 1 ] || { status=1; echo "ThreadSanitizer build failed (see $SAN_LOG)"; }
  [ $san_rc -eq 0 ] || tail -n 40 "$SAN_LOG"
fi
if [ $asan_ok -eq 1 ]; then
  # DPDK keeps its EAL allocations until exit: .ci/lsan.supp names those, nothing else.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export LSAN_OPTIONS=suppressions=$ROOT/.ci/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  run_suite "$ASAN_BUILD" unit --timeout-multiplier 5
  run_suite "$ASAN_BUILD" dpdk --timeout-multiplier 5
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi

tsan_tests="dpdk-tables dpdk-tables-concurrent dpdk-host-table4"
if [ $tsan_ok -eq 1 ]; then
  step "ThreadSanitizer: $tsan_tests ($(basename "$TSAN_BUILD"))"
  # The IPv6 grace-period test measures a 20 ms wait from after it starts a thread, which
  # TSan slows past that margin; its ordering is covered by the normal build.
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$ROOT/.ci/tsan.supp" \
    meson test -C "$TSAN_BUILD" --no-rebuild --print-errorlogs --logbase "testlog-tsan" \
    --timeout-multiplier 3 \
    --test-args=--gtest_filter=-Tables.Ipv6AddAfterDeleteWaitsForTheReadersGracePeriod \
    $tsan_tests
  suite_results+=("$TSAN_BUILD/meson-logs/testlog-tsan.json=$?")
fi

step "summary"
extra_failed=0
[ "${format_failed:-0}" = 1 ] && { echo "FAILED formatting check"; extra_failed=$((extra_failed + 1)); }
[ $status -ne 0 ] && { echo "FAILED a build step"; extra_failed=$((extra_failed + 1)); }
python3 .ci/summarize.py --extra-failed "$extra_failed" "${suite_results[@]}"
