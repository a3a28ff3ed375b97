#!/bin/sh
# Runs jumpgatectl end to end and checks its exit code, and that its output (stdout and
# stderr) holds every expected text.
# usage: run_jumpgatectl.sh EXPECTED_EXIT JUMPGATECTL [ARG...] [-- EXPECTED_TEXT...]
set -u
expected_exit=$1
shift
ctl=$1
shift

args_file=$(mktemp)
out_file=$(mktemp)
trap 'rm -f "$args_file" "$out_file"' EXIT

# Split ARG... from EXPECTED_TEXT... at the first "--".
set -- "$@" --end--
texts=0
while [ "$1" != --end-- ]; do
    if [ "$1" = -- ] && [ "$texts" = 0 ]; then
        texts=1
    elif [ "$texts" = 0 ]; then
        printf '%s\n' "$1" >>"$args_file"
    else
        set -- "$@" "$1"
    fi
    shift
done
shift

# One argument per line: no argument here contains a newline.
old_ifs=$IFS
IFS='
'
# shellcheck disable=SC2046
"$ctl" $(cat "$args_file") >"$out_file" 2>&1
actual_exit=$?
IFS=$old_ifs

cat "$out_file"
status=0
if [ "$actual_exit" != "$expected_exit" ]; then
    echo "FAIL: exit code $actual_exit, expected $expected_exit"
    status=1
fi
for text in "$@"; do
    if ! grep -qF -- "$text" "$out_file"; then
        echo "FAIL: output lacks: $text"
        status=1
    fi
done
exit $status
