#!/bin/sh
# Runs jumpgate-client with ARG... and checks its exit code and that its output (stdout and
# stderr together) holds TEXT. Nothing it is given here gets as far as opening a socket.
# usage: run_client_cli.sh EXPECTED_EXIT TEXT JUMPGATE_CLIENT [ARG...]
set -u
expected=$1
text=$2
shift 2
out=$("$@" 2>&1)
rc=$?
if [ "$rc" != "$expected" ]; then
    printf 'exit %s, expected %s: %s\n%s\n' "$rc" "$expected" "$*" "$out"
    exit 1
fi
case $out in
*"$text"*) ;;
*)
    printf 'output lacks "%s": %s\n%s\n' "$text" "$*" "$out"
    exit 1
    ;;
esac
