#!/usr/bin/env bash
# kiln-reapi against a REAPI v2 client written from the published protocol
# (tests/e2e/reapi_conformance.py: Debian's python3-grpcio and the stubs of
# python3-buildstream): the capabilities, the CAS, ByteStream (10 MiB,
# plain and zstd), the action cache, Execute and WaitExecution on a real
# grid, each refusal with its exact status code and nothing stored by a
# refused request. Three servers (kiln up starts the first two):
#   open     --reapi-port 0: anyone reads, uploads and executes, nobody
#            writes the action cache
#   updates  --reapi-allow-updates: clients may write the action cache
#   tokens   a kiln-reapi of its own in front of a grid, --tokens FILE:
#            readonly, client and writer bearer tokens
set -euo pipefail
here=$(dirname "$0")
source "$here/lib.sh"
source "$here/up_lib.sh"
source "$here/reapi_lib.sh"

reapi_python_ready ||
  fail "$PY cannot import grpc and buildstream's REAPI stubs (scripts/install-deps.sh installs python3-grpcio and python3-buildstream)"

# conformance MODE NAME: the client against $REAPI, started as MODE says
# (kiln up's or kiln-reapi's log: $WORK/NAME.err); a failing mode is noted
# in $failed and the next one runs.
failed=
conformance() {
  local mode=$1
  if "$PY" "$here/reapi_conformance.py" "$REAPI" "$mode"; then return 0; fi
  failed="$failed ${mode%%=*}"
  echo "the server's log ($2.err), last lines:"
  grep -v 'joined: ' "$WORK/$2.err" | tail -10 | cut -c1-300
}

start_reapi_grid open 2
conformance open open
# The Execute scenarios' actions ran on the grid's workers
executed=$(grid_executed)
[ "$executed" -ge 5 ] || fail "the grid's workers ran $executed actions, expected the scenarios' 5 or more"
stop_last_grid

start_reapi_grid updates 1 --reapi-allow-updates
conformance updates updates
stop_last_grid

umask 077
cat >"$WORK/tokens.txt" <<TOKENS
# ROLE NAME TOKEN
readonly dashboard $(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
client ci $(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
writer trusted-ci $(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOKENS
start_reapi_grid tokens 1
start_reapi_front tokens-front --tokens "$WORK/tokens.txt"
conformance "tokens=$WORK/tokens.txt" tokens-front
[ -z "$failed" ] || fail "REAPI conformance failed in:$failed"

# kiln-reapi's command line: each bad setting is one clear line and exit
# code 2 (usage) or 1 (the store), and no server starts.
reapi_bin="$(dirname "$KILN")/kiln-reapi"
store=$(grid_store)
expect_exit 2 "$reapi_bin" --no-auth --store "$store" --endpoint 0.0.0.0:0
expect_err "kiln-reapi: error: --endpoint 0.0.0.0:0 is not loopback: give --tokens and --tls-cert/--tls-key"
chmod 644 "$WORK/tokens.txt"
expect_exit 2 "$reapi_bin" --no-auth --store "$store" --tokens "$WORK/tokens.txt"
expect_err "may be read by others; it holds secrets"
chmod 600 "$WORK/tokens.txt"
echo "admin root 0123456789abcdef0123" >"$WORK/bad-tokens.txt"
expect_exit 2 "$reapi_bin" --no-auth --store "$store" --tokens "$WORK/bad-tokens.txt"
expect_err "line 1: unknown role 'admin'"
expect_exit 2 "$reapi_bin" --no-auth --store "$store" --tokens "$WORK/tokens.txt" --allow-updates
expect_err "--allow-updates is for servers without --tokens"
expect_exit 2 "$reapi_bin" --store "$store"
expect_err "give --key FILE"
# An XXH3 store (kiln up without --reapi-port makes one) is not the API's.
"$KILN" cas put "$WORK/tokens.txt" >/dev/null 2>&1 || true
expect_exit 1 "$reapi_bin" --no-auth --store "$KILN_DIR/store" --endpoint 127.0.0.1:0
expect_err "start the scheduler with --digest-function sha256"
echo "reapi conformance: open, updates and tokens passed; bad command lines refused"
