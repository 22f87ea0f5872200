#!/usr/bin/env bash
# The grid with real processes on 127.0.0.1: a kiln-scheduler, kiln-worker
# daemons and concurrent `kiln run` clients, through the failures the
# design promises to survive. Load and failures, no hostile input: CI runs
# it on the optimized build (label load; under ASan it costs four to five
# times the CPU). Hostile outputs and garbage on the ports: grid_hostile.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"

client_port=$(free_port)
worker_port=$(free_port)
start_scheduler "$client_port" "$worker_port"
start_worker w1 2
start_worker w2 2
wait_workers 2
export KILN_SCHEDULER=$CLIENT_EP
# Actions run sandboxed: they cannot write outside their directories, so
# each execution puts a token of its own (a fresh UUID) in its output, and
# the distinct tokens count the real executions; a cache hit brings back
# the token of the execution it replays.
uuid=/proc/sys/kernel/random/uuid

# --- 300 actions with distinct outputs from 3 concurrent clients ----------
mkdir -p "$WORK/proj"
cd "$WORK/proj"
printf 'seed\n' >input.txt
client() {  # client N: 100 actions, each with its own output
  local n=$1 dir=$WORK/cache-$2
  for i in $(seq 1 100); do
    KILN_DIR=$dir "$KILN" run -i input.txt -o "out/$n-$i.txt" -- \
      sh -c "echo $n-$i \$(cat input.txt) \$(cat $uuid) > out/$n-$i.txt" >/dev/null ||
      { echo "client $n action $i failed" >&2; return 1; }
  done
}
client 1 a & p1=$!
client 2 b & p2=$!
client 3 c & p3=$!
wait $p1 && wait $p2 && wait $p3 || fail "a client failed"
for n in 1 2 3; do
  for i in $(seq 1 100); do
    read -r name seed _ <"out/$n-$i.txt"
    [ "$name $seed" = "$n-$i seed" ] || fail "wrong output out/$n-$i.txt: $(cat "out/$n-$i.txt")"
  done
done
cat out/*.txt | sort >"$WORK/first-run"
[ "$(cut -d' ' -f3 "$WORK/first-run" | sort -u | wc -l)" -eq 300 ] ||
  fail "expected 300 executions, saw $(cut -d' ' -f3 "$WORK/first-run" | sort -u | wc -l)"

# Rerun from empty local caches: every action is a central cache hit.
rm -rf out
client 1 d & p1=$!
client 2 e & p2=$!
client 3 f & p3=$!
wait $p1 && wait $p2 && wait $p3 || fail "a client failed on the rerun"
cat out/*.txt | sort | cmp -s - "$WORK/first-run" ||
  fail "the rerun executed actions again: its outputs differ from the first run's"

# --- 5 clients submit the same action at once: it executes once ----------
clients=()
for c in 1 2 3 4 5; do
  KILN_DIR="$WORK/same-$c" "$KILN" run -o same.txt -- sh -c "cat $uuid; sleep 1; echo same > same.txt" \
    >"$WORK/same-$c.out" 2>&1 &
  clients+=($!)
done
wait_all "${clients[@]}" || fail "a client of the shared action failed"
[ "$(cat "$WORK"/same-*.out | sort -u | wc -l)" -eq 1 ] ||
  fail "the shared action executed $(cat "$WORK"/same-*.out | sort -u | wc -l) times"

# --- a timeout kills the action and its children ---------------------------
marker="sleep 7$$"   # a unique command line for the action and its child
expect_exit 124 "$KILN" run --timeout 0.5 -- sh -c "$marker & $marker; wait"
expect_err "timed out"
sleep 0.3
! pgrep -fx "$marker" >/dev/null || fail "a timed-out action's process survived"

# --- kill -9 a worker holding actions: every action still completes --------
victim=$LAST_WORKER_PID   # w2
clients=()
for i in 1 2 3 4 5 6; do
  KILN_DIR="$WORK/k9-$i" "$KILN" run -o "k9-$i.txt" -- \
    sh -c "sleep 1; echo k9-$i > k9-$i.txt" >/dev/null 2>"$WORK/k9-$i.err" &
  clients+=($!)
done
sleep 0.5
kill -9 "$victim"
wait_all "${clients[@]}" || true
for i in 1 2 3 4 5 6; do
  [ "$(cat "k9-$i.txt" 2>/dev/null)" = "k9-$i" ] || fail "action k9-$i lost after kill -9: $(cat "$WORK/k9-$i.err")"
done

# --- kill -9 the scheduler mid-run and start it again -----------------------
start_worker w3 2
wait_workers 2
clients=()
for i in 1 2 3 4; do
  KILN_DIR="$WORK/rs-$i" "$KILN" run -o "rs-$i.txt" -- sh -c "sleep 1.5; echo rs-$i > rs-$i.txt" \
    >/dev/null 2>"$WORK/rs-$i.err" &
  clients+=($!)
done
sleep 0.7
kill -9 "$SCHED_PID"
sleep 0.3
start_scheduler "$client_port" "$worker_port"
wait_workers 2   # the workers came back by themselves
wait_all "${clients[@]}" || true
for i in 1 2 3 4; do
  if [ -e "rs-$i.txt" ]; then
    [ "$(cat "rs-$i.txt")" = "rs-$i" ] || fail "wrong result after scheduler restart: rs-$i"
  else
    grep -q "^kiln: error: " "$WORK/rs-$i.err" || fail "rs-$i: neither a result nor a clear error"
  fi
done
echo "grid: all scenarios passed"
