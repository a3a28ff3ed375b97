#!/usr/bin/env bash
# Runs every fuzz target built by build_fuzzers.sh for SECONDS each, from a temporary copy of
# its seed corpus (the repository never grows), and prints the executions per target:
#   tests/fuzz/run_fuzzers.sh OUTDIR SECONDS [TARGET...]
# Exits non-zero when any target crashes, leaks, times out or breaks an invariant; the
# reproducer is kept in OUTDIR/findings/<target>/ and its path printed.
set -uo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 OUTDIR SECONDS [TARGET...]" >&2
    exit 2
fi
out=$(cd "$1" && pwd)
seconds=$2
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(fuzz_outer_packet fuzz_handshake_responder fuzz_control_message fuzz_config
             fuzz_audit_line)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=0
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    findings="$out/findings/$target"
    mkdir -p "$corpus" "$findings"
    cp -r "$here/corpus/$target/." "$corpus/"
    args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
          -artifact_prefix="$findings/")
    if [[ -f "$here/dict/$target.dict" ]]; then
        args+=(-dict="$here/dict/$target.dict")
    fi
    log="$out/$target.log"
    "$out/$target" "${args[@]}" "$corpus" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [[ $rc -eq 0 ]]; then
        printf '%-26s %12s executions in %ss: ok\n' "$target" "${execs:-?}" "$seconds"
    else
        failed=1
        printf '%-26s %12s executions in %ss: FAILED (exit %d)\n' "$target" "${execs:-?}" \
            "$seconds" "$rc"
        grep -E 'ERROR|invariant failed|SUMMARY|Test unit written|terminate called|what\(\)' \
            "$log" | head -20
        echo "full log: $log"
    fi
done
exit $failed
