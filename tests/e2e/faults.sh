#!/usr/bin/env bash
# When the scheduler goes away (real kiln-scheduler, kiln-worker and kiln
# processes on 127.0.0.1): nothing waits past its documented bound, an
# action in flight survives a kill -9 and restart of the scheduler, and
# work goes on on this machine when the scheduler does not come back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"

client_port=$(free_port)
worker_port=$(free_port)
start_scheduler "$client_port" "$worker_port"
start_worker f1 2
wait_workers 1
export KILN_SCHEDULER=$CLIENT_EP KILN_REMOTE_TIMEOUT=5
mkdir -p "$WORK/proj" && cd "$WORK/proj"
uuid=/proc/sys/kernel/random/uuid

# --- kill -9 and restart mid-action: the action is sent again and done -----
"$KILN" run -o slow.txt -- sh -c "sleep 2; cat $uuid > slow.txt" >"$WORK/slow.out" 2>"$WORK/slow.err" &
client=$!
sleep 0.7
kill -9 "$SCHED_PID"
sleep 0.5
start_scheduler "$client_port" "$worker_port"
wait "$client" || fail "the action did not survive the restart: $(cat "$WORK/slow.err")"
[ -s slow.txt ] || fail "no output after the restart"
! grep -q "running here" "$WORK/slow.err" || fail "it ran here although the scheduler came back"
wait_workers 1

# --- a scheduler that stays away: kiln run goes on here after remote_timeout
kill -9 "$SCHED_PID"
expect_exit 0 "$KILN" run -o here.txt -- sh -c 'echo ran > here.txt'
[ "$(cat here.txt)" = ran ] || fail "the fallback did not write its output"
grep -q "^kiln: warning: the grid is unavailable (.*); running here" "$WORK/err" ||
  fail "no warning for the fallback: $(cat "$WORK/err")"

# --- compiles: one waits remote_timeout, the next ones skip the grid -------
printf 'int f(void) { return 1; }\n' >a.c
printf 'int g(void) { return 2; }\n' >b.c
export KILN_LOGFILE=$WORK/kiln.log
expect_exit 0 "$KILN" gcc -c a.c -o a.o
expect_exit 0 "$KILN" gcc -c b.c -o b.o
[ -s a.o ] && [ -s b.o ] || fail "the compiles did not produce objects"
grep -q "a.c: .*grid unavailable.*compiling here for 5 s" "$WORK/kiln.log" ||
  fail "the first compile did not fall back: $(cat "$WORK/kiln.log")"
grep -q "b.c: miss_remote_fallback" "$WORK/kiln.log" ||
  fail "the second compile did not skip the grid: $(cat "$WORK/kiln.log")"
! grep -q "b.c: .*grid unavailable" "$WORK/kiln.log" || fail "the second compile waited for the grid too"

# --- the scheduler back: the next compile after the window uses it ---------
start_scheduler "$client_port" "$worker_port"
wait_workers 1
sleep 5  # the first window (5 s) passes
printf 'int h(void) { return 3; }\n' >c.c
expect_exit 0 "$KILN" gcc -c c.c -o c.o
grep -qE "c.c: miss_remote(_headers)?$" "$WORK/kiln.log" ||
  fail "the grid was not used again once back: $(tail -3 "$WORK/kiln.log")"
[ ! -e "$KILN_DIR/grid-backoff" ] || fail "a compile the grid ran did not end the backoff"
echo "faults: all scenarios passed"
