# Shared helpers for kiln's end-to-end scenarios (sourced, not run).
# Each scenario gets a private temp dir, removed on exit, and a private
# KILN_DIR and config so it never touches the user's cache.
set -euo pipefail

KILN=${KILN:?set KILN to the kiln binary}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kiln-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export KILN_DIR="$WORK/cache"
export KILN_CONFIG="$WORK/kiln.conf"

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_exit CODE CMD...: runs CMD, checks its exit code, keeps stdout in
# $WORK/out and stderr in $WORK/err.
expect_exit() {
  local want=$1; shift
  local got=0
  "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  [ "$got" -eq "$want" ] || fail "$* exited $got, expected $want; stderr: $(cat "$WORK/err")"
}

# expect_err TEXT: the last command's stderr is exactly one line containing TEXT.
expect_err() {
  grep -qF -- "$1" "$WORK/err" || fail "stderr lacks '$1': $(cat "$WORK/err")"
  [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "stderr is not one line: $(cat "$WORK/err")"
}
