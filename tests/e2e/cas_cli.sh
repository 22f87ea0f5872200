#!/usr/bin/env bash
# `kiln cas` as a user drives it: put/get, tree/checkout, stats, gc, and
# every bad input getting one clear error line and its documented exit code.
source "$(dirname "$0")/lib.sh"

# put prints "<digest>  <file>"; get writes the same bytes back.
head -c 100000 /dev/urandom >"$WORK/a.bin"
printf 'hello\n' >"$WORK/small.txt"
expect_exit 0 "$KILN" cas put "$WORK/a.bin" "$WORK/small.txt"
digest_a=$(awk 'NR==1 {print $1}' "$WORK/out")
digest_s=$(awk 'NR==2 {print $1}' "$WORK/out")
[[ $digest_a =~ ^[0-9a-f]{32}/100000$ ]] || fail "bad digest '$digest_a'"
[ "${digest_s%%/*}" = "$(xxhsum -H2 "$WORK/small.txt" | awk '{print $1}' | sed 's/^XXH128_//')" ] ||
  fail "digest of small.txt does not match xxhsum -H2"
expect_exit 0 "$KILN" cas get "$digest_a" -o "$WORK/a.out"
cmp "$WORK/a.bin" "$WORK/a.out" || fail "get returned other bytes"
expect_exit 0 "$KILN" cas get "$digest_s"
[ "$(cat "$WORK/out")" = hello ] || fail "get to stdout"

# A large (file-backed) blob round-trips too.
head -c $((3 << 20)) /dev/urandom >"$WORK/big.bin"
expect_exit 0 "$KILN" cas put "$WORK/big.bin"
digest_b=$(awk '{print $1}' "$WORK/out")
expect_exit 0 "$KILN" cas get "$digest_b" -o "$WORK/big.out"
cmp "$WORK/big.bin" "$WORK/big.out" || fail "big blob differs"

# tree + checkout reproduce a directory: contents, exec bits, symlinks.
src="$WORK/src"
mkdir -p "$src/sub/deeper" "$src/empty"
printf 'int main() {}\n' >"$src/main.c"
printf '#!/bin/sh\necho hi\n' >"$src/sub/run.sh"; chmod +x "$src/sub/run.sh"
cp "$WORK/a.bin" "$src/sub/deeper/data.bin"
ln -s ../main.c "$src/sub/link.c"
expect_exit 0 "$KILN" cas tree "$src"
root=$(cat "$WORK/out")
expect_exit 0 "$KILN" cas tree "$src"
[ "$(cat "$WORK/out")" = "$root" ] || fail "tree digest not stable"
grep -q "stored 0 new" "$WORK/err" || fail "second tree upload stored blobs again: $(cat "$WORK/err")"
expect_exit 0 "$KILN" cas checkout "$root" "$WORK/copy"
diff -r --no-dereference "$src" "$WORK/copy" || fail "checkout differs"
[ -x "$WORK/copy/sub/run.sh" ] || fail "exec bit lost"
[ "$(readlink "$WORK/copy/sub/link.c")" = ../main.c ] || fail "symlink lost"

# stats, text and JSON.
expect_exit 0 "$KILN" cas stats
grep -q "^blobs" "$WORK/out" || fail "stats text"
expect_exit 0 "$KILN" cas stats --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["blobs"] >= 5, d' "$WORK/out" ||
  fail "stats --json"

# gc to zero empties the store; a get then reports not found (exit 3).
expect_exit 0 "$KILN" cas gc --max-size 0
expect_exit 3 "$KILN" cas get "$digest_a" -o "$WORK/gone"
expect_err "kiln: error: blob $digest_a is not in the store"
[ ! -e "$WORK/gone" ] || fail "a failed get left an output file"

# Bad input: one line, documented exit code.
expect_exit 2 "$KILN" cas get nothex/12
expect_err "kiln: error: digest 'nothex/12'"
expect_exit 2 "$KILN" cas get 0123456789abcdef0123456789abcdef
expect_err "has no '/<size>'"
expect_exit 2 "$KILN" cas put "$WORK/does-not-exist"
expect_err "kiln: error:"
expect_exit 2 "$KILN" cas gc --max-size lots
expect_err "kiln: error: --max-size"
expect_exit 2 "$KILN" cas frobnicate
expect_err "kiln: error:"
expect_exit 3 "$KILN" cas checkout 0123456789abcdef0123456789abcdef/10 "$WORK/none"
expect_err "kiln: error:"
KILN_MAXSIZE=huge expect_exit 2 "$KILN" cas stats
expect_err "kiln: error: max_size"
printf 'max_sise = 1G\n' >"$KILN_CONFIG"
expect_exit 2 "$KILN" cas stats
expect_err "kiln.conf:1: unknown key 'max_sise'"
rm "$KILN_CONFIG"

# A store made with one digest function refuses the other.
KILN_DIGEST_FUNCTION=sha256 expect_exit 2 "$KILN" cas stats
expect_err "kiln: error:"

# An unwritable cache directory: a clear error, not a crash (run as an
# unprivileged user, since root ignores permissions).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  mkdir -p "$WORK/locked"; chmod 755 "$WORK" "$WORK/locked"
  printf 'x\n' >"$WORK/x.txt"; chmod 644 "$WORK/x.txt"
  expect_exit 1 setpriv --reuid=65534 --regid=65534 --clear-groups \
    env KILN_DIR="$WORK/locked/cache" "$KILN" cas put "$WORK/x.txt"
  expect_err "kiln: error:"
fi
echo "cas_cli: all scenarios passed"
