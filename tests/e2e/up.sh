#!/usr/bin/env bash
# `kiln up`: a one-machine grid in one command, used by `kiln run` and
# `kiln status`, and stopped whole by Ctrl-C (SIGINT).
source "$(dirname "$0")/lib.sh"

"$KILN" up --workers 2 --port 0 >"$WORK/up.out" 2>"$WORK/up.err" &
up=$!
# Children first: once kiln up is gone they are no longer its children.
trap 'pkill -9 -P $up 2>/dev/null || true; kill -9 $up 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do grep -q '^KILN_SCHEDULER=tcp://127.0.0.1:' "$WORK/up.out" && break; sleep 0.05; done
grep -q '^KILN_SCHEDULER=' "$WORK/up.out" || fail "kiln up printed no address: $(cat "$WORK/up.err")"
export "$(head -1 "$WORK/up.out")"
children=$(pgrep -P $up | wc -l)
[ "$children" -eq 3 ] || fail "expected a scheduler and 2 workers, found $children children"

for _ in $(seq 1 200); do
  "$KILN" status --json >"$WORK/status.json" 2>/dev/null &&
    python3 -c 'import json,sys; sys.exit(len(json.load(open(sys.argv[1]))["workers"]) != 2)' "$WORK/status.json" &&
    break
  sleep 0.05
done
expect_exit 0 "$KILN" status
grep -q "^workers    2" "$WORK/out" || fail "kiln status: $(cat "$WORK/out")"

mkdir -p "$WORK/proj" && cd "$WORK/proj"
printf 'grid\n' >in.txt
expect_exit 0 "$KILN" run -i in.txt -o out.txt -- sh -c 'tr a-z A-Z < in.txt > out.txt; echo on a worker'
[ "$(cat out.txt)" = GRID ] || fail "wrong output through kiln up"
[ "$(cat "$WORK/out")" = "on a worker" ] || fail "stdout not replayed"

pids=$(pgrep -P $up | tr '\n' ' ')
kill -INT $up
for _ in $(seq 1 300); do kill -0 $up 2>/dev/null || break; sleep 0.05; done
! kill -0 $up 2>/dev/null || fail "kiln up did not stop on SIGINT"
wait $up || fail "kiln up exited non-zero after SIGINT"
for pid in $pids; do ! kill -0 "$pid" 2>/dev/null || fail "process $pid outlived kiln up"; done

expect_exit 1 "$KILN" status
expect_err "kiln: error: scheduler"
unset KILN_SCHEDULER
expect_exit 2 "$KILN" status
expect_err "no scheduler configured"
echo "up: all scenarios passed"
