#!/usr/bin/env bash
# jumpgate genkey / pubkey as an operator runs them: genkey creates a 0600 file holding the
# base64 of 32 bytes (whatever the umask), pubkey agrees with `wg pubkey` in both directions,
# genkey never overwrites a key file, and every failure exits non-zero naming the file.
set -euo pipefail
JUMPGATE=${1:?usage: keys_cli_test.sh JUMPGATE_BINARY}
command -v wg > /dev/null || { echo "FAIL: wg (wireguard-tools) is not installed"; exit 1; }
work=$(mktemp -d /tmp/jg-keys.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A WireGuard private key: one line of 44 base64 characters decoding to 32 bytes.
check_key_text() {
    local file=$1
    [ "$(wc -l < "$file")" -eq 1 ] || fail "$file: expected one line"
    local text
    text=$(cat "$file")
    [[ "$text" =~ ^[A-Za-z0-9+/]{43}=$ ]] || fail "$file: not 44 characters of base64: $text"
    [ "$(base64 -d < "$file" | wc -c)" -eq 32 ] || fail "$file: does not decode to 32 bytes"
}

# genkey FILE under a permissive umask still creates a private file.
(umask 000 && "$JUMPGATE" genkey "$work/gw.key") 2> "$work/genkey.err" \
    || { cat "$work/genkey.err"; fail "genkey FILE failed"; }
[ "$(stat -c %a "$work/gw.key")" = 600 ] || fail "key file mode is $(stat -c %a "$work/gw.key"), not 600"
check_key_text "$work/gw.key"
grep -q "$work/gw.key" "$work/genkey.err" || fail "genkey does not say where the key went"

# Clamped as X25519 requires (and as `wg genkey` does): low 3 bits clear, top bit clear,
# bit 254 set.
read -r first last < <(base64 -d < "$work/gw.key" | od -An -tu1 -v | tr -s ' \n' ' ' \
    | awk '{print $1, $32}')
[ $((first & 7)) -eq 0 ] && [ $((last & 128)) -eq 0 ] && [ $((last & 64)) -eq 64 ] \
    || fail "generated key is not clamped (first byte $first, last byte $last)"

# pubkey, from the file and from stdin, matches wg pubkey.
want=$(wg pubkey < "$work/gw.key")
got_file=$("$JUMPGATE" pubkey "$work/gw.key")
got_stdin=$("$JUMPGATE" pubkey < "$work/gw.key")
[ "$got_file" = "$want" ] || fail "pubkey FILE printed $got_file, wg pubkey $want"
[ "$got_stdin" = "$want" ] || fail "pubkey < FILE printed $got_stdin, wg pubkey $want"

# The other direction: a key made by wg genkey.
(umask 077 && wg genkey > "$work/wg.key")
[ "$("$JUMPGATE" pubkey "$work/wg.key")" = "$(wg pubkey < "$work/wg.key")" ] \
    || fail "pubkey disagrees with wg pubkey on a wg-generated key"

# genkey with no FILE prints a key to stdout (for pipes into wg or a secret store).
"$JUMPGATE" genkey > "$work/stdout.key" 2> /dev/null || fail "genkey to stdout failed"
check_key_text "$work/stdout.key"
[ "$("$JUMPGATE" pubkey < "$work/stdout.key")" = "$(wg pubkey < "$work/stdout.key")" ] \
    || fail "pubkey disagrees with wg pubkey on a key genkey printed"
cmp -s "$work/stdout.key" "$work/gw.key" && fail "two genkey runs produced the same key"

# genkey refuses to overwrite an existing key file and leaves it untouched.
cp "$work/gw.key" "$work/gw.key.before"
rc=0
"$JUMPGATE" genkey "$work/gw.key" 2> "$work/overwrite.err" || rc=$?
[ "$rc" -ne 0 ] || fail "genkey overwrote an existing key file"
grep -q "$work/gw.key" "$work/overwrite.err" || fail "overwrite refusal does not name the file"
grep -q "refusing to overwrite" "$work/overwrite.err" || fail "overwrite refusal does not say why"
cmp -s "$work/gw.key" "$work/gw.key.before" || fail "the refused genkey changed the key file"

# genkey into a directory that does not exist fails naming the path.
rc=0
"$JUMPGATE" genkey "$work/missing/gw.key" 2> "$work/nodir.err" || rc=$?
[ "$rc" -ne 0 ] || fail "genkey into a missing directory succeeded"
grep -q "$work/missing/gw.key" "$work/nodir.err" || fail "error does not name the path"
grep -q "No such file or directory" "$work/nodir.err" || fail "error does not say why"
[ ! -e "$work/missing" ] || fail "genkey created a directory"

# pubkey on malformed or missing key files fails naming the file; on stdin it says so.
printf 'not-a-key\n' > "$work/bad.key"
head -c 32 /dev/urandom | base64 | cut -c1-40 > "$work/short.key"
for f in "$work/bad.key" "$work/short.key" "$work/absent.key"; do
    rc=0
    "$JUMPGATE" pubkey "$f" > "$work/pub.out" 2> "$work/pub.err" || rc=$?
    [ "$rc" -ne 0 ] || fail "pubkey accepted $f"
    [ ! -s "$work/pub.out" ] || fail "pubkey printed a key for $f"
    grep -q "$f" "$work/pub.err" || { cat "$work/pub.err"; fail "pubkey error does not name $f"; }
done
grep -q "cannot open" "$work/pub.err" || fail "missing key file error does not say why"
rc=0
"$JUMPGATE" pubkey < "$work/bad.key" 2> "$work/stdin.err" > /dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "pubkey accepted a malformed key on stdin"
grep -q "standard input: not a WireGuard key" "$work/stdin.err" || fail "stdin error unclear"
echo "PASS"
