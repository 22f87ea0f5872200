# Helpers for grid scenarios (sourced after lib.sh): start a real
# kiln-scheduler and kiln-worker processes on 127.0.0.1 with random ports,
# and stop every process started here when the scenario ends. The grid
# speaks CURVE with keys made here (kiln keygen): a scheduler key, a worker
# key and a client key, exported for every kiln command of the scenario.
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

# make_keys: $KEYS/{scheduler,worker,client}.{key,pub} and
# $KEYS/authorized_keys admitting the worker and the client (once).
KEYS=$WORK/keys
make_keys() {
  [ -f "$KEYS/authorized_keys" ] && return 0
  mkdir -p "$KEYS"
  local name
  for name in scheduler worker client; do
    "$KILN" keygen -o "$KEYS/$name" --comment "e2e $name" >/dev/null 2>&1 || fail "kiln keygen $name failed"
  done
  {
    echo "worker $(sed -n 's/^public = //p' "$KEYS/worker.pub") e2e-worker"
    echo "client $(sed -n 's/^public = //p' "$KEYS/client.pub") e2e-client"
  } >"$KEYS/authorized_keys"
  export KILN_SCHEDULER_KEY=$KEYS/scheduler.pub KILN_CLIENT_KEY=$KEYS/client.key
}

# start_scheduler CLIENT_PORT WORKER_PORT [ARG...]: sets SCHED_PID,
# CLIENT_EP, WORKER_EP.
start_scheduler() {
  local ready="$WORK/scheduler.ready" client_port=$1 worker_port=$2
  shift 2
  make_keys
  rm -f "$ready"
  "$BIN/kiln-scheduler" --client-endpoint "tcp://127.0.0.1:$client_port" \
    --worker-endpoint "tcp://127.0.0.1:$worker_port" --store "$WORK/central" --ready-file "$ready" \
    --heartbeat-ms 200 --key "$KEYS/scheduler.key" --authorized-keys "$KEYS/authorized_keys" "$@" \
    >>"$WORK/scheduler.log" 2>&1 &
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

# start_worker ID SLOTS [ARG...]: sets LAST_WORKER_PID. WORKER_KEY names
# another key file for it (default: the authorized worker key).
start_worker() {
  local id=$1 slots=$2
  shift 2
  "$BIN/kiln-worker" --scheduler "$WORKER_EP" --id "$id" --slots "$slots" --store "$WORK/$id/store" \
    --work-dir "$WORK/$id/work" --heartbeat-ms 200 --key "${WORKER_KEY:-$KEYS/worker.key}" \
    --scheduler-key "$KEYS/scheduler.pub" "$@" >>"$WORK/$id.log" 2>&1 &
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
