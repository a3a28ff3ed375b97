#!/usr/bin/env bash
# jumpgate --duration-s / --stats-interval-s: NaN, infinities, huge or negative values and
# positive values under a millisecond (which would round to 0, "run forever") are refused
# before anything starts, naming the option and the value; 0 and 0.001..10^7 s are taken.
# --check-config stands in for a run: the options are parsed first, and it needs no EAL.
set -euo pipefail
JUMPGATE=${1:?usage: run_options_test.sh JUMPGATE_BINARY}
work=$(mktemp -d /tmp/jg-runopts.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$JUMPGATE" --print-demo-config > "$work/demo.yaml"

for option in --duration-s --stats-interval-s; do
  for value in nan -nan inf 1e300 10000001 -1 0.0004 abc ""; do
    rc=0
    "$JUMPGATE" "$option" "$value" --check-config "$work/demo.yaml" > "$work/out.log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || fail "$option '$value' was accepted"
    grep -qF -- "$option: '$value' is not 0 or a number of seconds in 0.001..10000000" "$work/out.log" \
      || { cat "$work/out.log"; fail "$option '$value': error does not name the option and value"; }
  done
  for value in 0 0.001 2.5 1e7; do
    "$JUMPGATE" "$option" "$value" --check-config "$work/demo.yaml" > "$work/out.log" 2>&1 \
      || { cat "$work/out.log"; fail "$option '$value' was refused"; }
  done
done
echo "run options: bad --duration-s / --stats-interval-s refused, naming option and value"
