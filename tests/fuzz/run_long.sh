#!/usr/bin/env bash
# Long fuzzing run (not in CI): builds every target with ASan+UBSan, fuzzes each for SECONDS
# (default 300) with FUZZ_JOBS at once, and reports executions, executions per second and
# coverage per target. The corpus grows in OUTDIR/corpus and is reused by the next run, so
# repeated runs add up; findings land in OUTDIR/findings/<target>/.
#   tests/fuzz/run_long.sh [SECONDS] [OUTDIR] [TARGET...]
# FUZZ_SKIP_BUILD=1 reuses the targets already built in OUTDIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seconds=${1:-300}
out=${2:-/var/tmp/jumpgate-fuzz}
shift $(( $# > 2 ? 2 : $# ))
mkdir -p "$out/corpus"
[[ ${FUZZ_SKIP_BUILD:-0} == 1 ]] || "$here/build_fuzzers.sh" "$out"
start=$(date +%s)
rc=0
FUZZ_CORPUS_DIR="$out/corpus" "$here/run_fuzzers.sh" "$out" "$seconds" "$@" | tee "$out/summary.txt" \
    || rc=$?
echo "wall time $(( $(date +%s) - start )) s; logs and corpus under $out" | tee -a "$out/summary.txt"
exit $rc
