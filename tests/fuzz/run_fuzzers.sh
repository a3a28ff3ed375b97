#!/usr/bin/env bash
# Runs every fuzz target built by build_fuzzers.sh for SECONDS each and prints, per target,
# executions, executions per second and coverage (libFuzzer's cov/ft counters):
#   tests/fuzz/run_fuzzers.sh OUTDIR SECONDS [TARGET...]
# FUZZ_JOBS targets run at once (default: the number of CPUs), one libFuzzer process each.
# Each target starts from its seed corpus; by default from a temporary copy (the repository
# never grows), or from FUZZ_CORPUS_DIR/<target>, which keeps what it finds across runs.
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
jobs=${FUZZ_JOBS:-$(nproc)}
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(fuzz_outer_packet fuzz_handshake_responder fuzz_control_message fuzz_config
             fuzz_audit_line)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus_root=${FUZZ_CORPUS_DIR:-$work/corpus}

# One target: fuzz, then write a one-line result to $work/<target>.result.
run_one() {
    local target=$1
    local corpus="$corpus_root/$target" findings="$out/findings/$target" log="$out/$target.log"
    mkdir -p "$corpus" "$findings"
    cp -rn "$here/corpus/$target/." "$corpus/"
    local args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
                -artifact_prefix="$findings/")
    [[ -f "$here/dict/$target.dict" ]] && args+=(-dict="$here/dict/$target.dict")
    "$out/$target" "${args[@]}" "$corpus" >"$log" 2>&1
    local rc=$?
    local execs rate cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    local line
    line=$(printf '%-26s %12s executions in %ss (%s/s), cov %s, ft %s, corpus %s' "$target" \
        "${execs:-?}" "$seconds" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
        "$(find "$corpus" -type f | wc -l)")
    if [[ $rc -eq 0 ]]; then
        echo "$line: ok" >"$work/$target.result"
    else
        {
            echo "$line: FAILED (exit $rc)"
            grep -E 'ERROR|invariant failed|SUMMARY|Test unit written|terminate called|what\(\)' \
                "$log" | head -20
            echo "full log: $log"
        } >"$work/$target.result"
        return 1
    fi
}

pids=()
for target in "${targets[@]}"; do
    run_one "$target" &
    pids+=($!)
    if (( ${#pids[@]} >= jobs )); then
        wait "${pids[0]}"
        pids=("${pids[@]:1}")
    fi
done
wait
failed=0
for target in "${targets[@]}"; do
    cat "$work/$target.result" 2>/dev/null || echo "$target: no result"
    grep -q ': ok$' "$work/$target.result" 2>/dev/null || failed=1
done
exit $failed
