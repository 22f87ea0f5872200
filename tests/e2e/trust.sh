#!/usr/bin/env bash
# Trust on the real grid (docs/security.md): a kiln-scheduler with CURVE keys
# and an authorized-keys file, real kiln-worker processes and kiln clients on
# 127.0.0.1. Strangers and misplaced keys get nothing and change nothing, a
# read-only key reads but cannot submit, a key removed from the file is
# refused after SIGHUP, and a grid that requires SHA-256 refuses XXH3 work
# with a clear error.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"

make_keys
for name in reader stranger; do
  "$KILN" keygen -o "$KEYS/$name" >/dev/null 2>&1 || fail "kiln keygen $name failed"
done
public() { sed -n 's/^public = //p' "$KEYS/$1.pub"; }
echo "readonly $(public reader) e2e-reader" >>"$KEYS/authorized_keys"
cp "$KEYS/authorized_keys" "$WORK/authorized_keys.all"

# status_field NAME: a number from `kiln status --json` (as the client).
status_field() {
  "$KILN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

start_scheduler "$(free_port)" "$(free_port)"
export KILN_SCHEDULER=$CLIENT_EP KILN_REMOTE_TIMEOUT=1

# --- strangers and misplaced keys get nothing ------------------------------
# A "worker" with a key nobody authorized and one with the client's key:
# neither becomes a worker, so neither is ever given an action to answer.
WORKER_KEY=$KEYS/stranger.key start_worker stranger 1
WORKER_KEY=$KEYS/client.key start_worker client-as-worker 1
sleep 1
expect_exit 0 "$KILN" status
grep -q "^workers    0" "$WORK/out" || fail "a stranger became a worker: $(cat "$WORK/out")"
grep -q "^trust      CURVE keys required" "$WORK/out" || fail "no trust line: $(cat "$WORK/out")"

# A client with a stranger's key, and one without CURVE: no reply at all.
KILN_CLIENT_KEY=$KEYS/stranger.key expect_exit 1 "$KILN" status
expect_err "did not answer"
KILN_SCHEDULER_KEY=none expect_exit 1 "$KILN" status
expect_err "did not answer"
[ "$(status_field refused_connections)" -ge 4 ] || fail "refusals not counted: $(status_field refused_connections)"
grep -q "key 'e2e-client' is a client key" "$WORK/scheduler.log" || fail "no log of the misplaced key: $(cat "$WORK/scheduler.log")"
grep -q "is not authorized" "$WORK/scheduler.log" || fail "no log of the stranger"

# Nothing was poisoned: the first real worker executes the action itself.
mkdir -p "$WORK/proj" && cd "$WORK/proj"
printf 'trusted\n' >in.txt
start_worker w1 1
wait_workers 1
expect_exit 0 "$KILN" run -i in.txt -o out.txt -- sh -c 'tr a-z A-Z <in.txt >out.txt; echo ran'
[ "$(cat out.txt)" = TRUSTED ] || fail "wrong output: $(cat out.txt)"
[ "$(cat "$WORK/out")" = ran ] || fail "stdout not replayed"
[ "$(status_field executed)" -eq 1 ] || fail "expected 1 execution"
! grep -q "lease" "$WORK/stranger.log" "$WORK/client-as-worker.log" || fail "a stranger saw a lease"

# --- a read-only key reads the cache, submits nothing ----------------------
KILN_CLIENT_KEY=$KEYS/reader.key expect_exit 0 "$KILN" status
printf 'other\n' >in2.txt
KILN_CLIENT_KEY=$KEYS/reader.key expect_exit 126 "$KILN" run -i in2.txt -o out2.txt -- sh -c 'cat in2.txt >out2.txt'
expect_err "permissionDenied: the key 'e2e-reader' is read-only"
[ ! -e out2.txt ] || fail "a read-only key's action ran"
[ "$(status_field executed)" -eq 1 ] || fail "a read-only key's action was executed"

# --- a revoked key is refused on its next message ---------------------------
grep -v e2e-client "$WORK/authorized_keys.all" >"$KEYS/authorized_keys"
kill -HUP "$SCHED_PID"
for _ in $(seq 1 100); do grep -q "authorized keys reloaded" "$WORK/scheduler.log" && break; sleep 0.05; done
grep -q "authorized keys reloaded: 1 worker, 0 client, 1 read-only" "$WORK/scheduler.log" ||
  fail "no reload: $(tail -3 "$WORK/scheduler.log")"
expect_exit 1 "$KILN" status
expect_err "did not answer"
KILN_CLIENT_KEY=$KEYS/reader.key expect_exit 0 "$KILN" status
# The worker's key stayed: it still serves once the client is back.
cp "$WORK/authorized_keys.all" "$KEYS/authorized_keys"
kill -HUP "$SCHED_PID"
for _ in $(seq 1 100); do
  [ "$(grep -c "authorized keys reloaded" "$WORK/scheduler.log")" -ge 2 ] && break
  sleep 0.05
done
expect_exit 0 "$KILN" run -i in2.txt -o out2.txt -- sh -c 'cat in2.txt >out2.txt'
[ "$(cat out2.txt)" = other ] || fail "the restored client was not served"

# --- a grid that requires SHA-256 -------------------------------------------
kill "$SCHED_PID"
wait "$SCHED_PID" 2>/dev/null || true
rm -rf "$WORK/central" "$WORK/w1"
start_scheduler "$(free_port)" "$(free_port)" --digest-function sha256 --require-sha256
export KILN_SCHEDULER=$CLIENT_EP
start_worker w-sha 1 --digest-function sha256
wait_workers 1
expect_exit 0 "$KILN" status
grep -q "sha256 required" "$WORK/out" || fail "status does not say sha256 is required: $(cat "$WORK/out")"
expect_exit 125 "$KILN" run -i in.txt -o out3.txt -- sh -c 'cat in.txt >out3.txt'
expect_err "requires sha256"
[ ! -e out3.txt ] || fail "an XXH3 action ran on a sha256-only grid"
KILN_DIR=$WORK/cache-sha KILN_DIGEST_FUNCTION=sha256 expect_exit 0 "$KILN" run -i in.txt -o out3.txt -- \
  sh -c 'cat in.txt >out3.txt'
[ "$(cat out3.txt)" = trusted ] || fail "the sha256 action did not run"
echo "trust: all scenarios passed"
