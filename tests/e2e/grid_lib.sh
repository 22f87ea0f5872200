# Helpers for grid scenarios (sourced after lib.sh): start a real
# kiln-scheduler and kiln-worker processes on 127.0.0.1 with random ports,
# and stop every process started here when the scenario ends.
BIN=$(dirname "$KILN")
PIDS=()
cleanup_grid() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup_grid EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_scheduler CLIENT_PORT WORKER_PORT: sets SCHED_PID, CLIENT_EP, WORKER_EP.
start_scheduler() {
  local ready="$WORK/scheduler.ready"
  rm -f "$ready"
  "$BIN/kiln-scheduler" --client-endpoint "tcp://127.0.0.1:$1" --worker-endpoint "tcp://127.0.0.1:$2" \
    --store "$WORK/central" --ready-file "$ready" --heartbeat-ms 200 >>"$WORK/scheduler.log" 2>&1 &
  SCHED_PID=$!
  PIDS+=("$SCHED_PID")
  for _ in $(seq 1 500); do
    [ -s "$ready" ] && [ "$(wc -l <"$ready")" -ge 2 ] && break
    kill -0 "$SCHED_PID" 2>/dev/null || fail "kiln-scheduler died at start: $(tail -5 "$WORK/scheduler.log")"
    sleep 0.02
  done
  CLIENT_EP=$(sed -n 1p "$ready")
  WORKER_EP=$(sed -n 2p "$ready")
  [ -n "$WORKER_EP" ] || fail "kiln-scheduler did not write its endpoints"
}

# start_worker ID SLOTS: sets LAST_WORKER_PID.
start_worker() {
  "$BIN/kiln-worker" --scheduler "$WORKER_EP" --id "$1" --slots "$2" --store "$WORK/$1/store" \
    --work-dir "$WORK/$1/work" --heartbeat-ms 200 >>"$WORK/$1.log" 2>&1 &
  LAST_WORKER_PID=$!
  PIDS+=("$LAST_WORKER_PID")
}

# wait_workers N: until the scheduler reports N workers (10 s at most).
wait_workers() {
  for _ in $(seq 1 200); do
    n=$(KILN_SCHEDULER=$CLIENT_EP "$KILN" status --json 2>/dev/null |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))' 2>/dev/null || echo 0)
    [ "$n" -eq "$1" ] && return 0
    sleep 0.05
  done
  fail "expected $1 workers; kiln status: $(KILN_SCHEDULER=$CLIENT_EP "$KILN" status 2>&1)"
}

# wait_all PID...: waits for these (never for the daemons); fails if any did.
wait_all() {
  local status=0
  for pid in "$@"; do wait "$pid" || status=1; done
  return $status
}
