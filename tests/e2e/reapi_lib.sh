# Grids with kiln-reapi, for the REAPI scenarios (sourced after lib.sh and
# up_lib.sh, not run): start_reapi_grid is start_grid (up_lib.sh) with
# `--reapi-port 0`, and waits for kiln up's KILN_REAPI line too. Its
# processes are stopped on exit like start_grid's.

# The system Python, which has Debian's python3-grpcio and the REAPI stubs
# of python3-buildstream (a pyenv python3 on PATH has neither).
PY=/usr/bin/python3

# reapi_python_ready: exits 0 if $PY can import grpc and the REAPI stubs.
reapi_python_ready() {
  "$PY" -c 'import grpc
from buildstream._protos.build.bazel.remote.execution.v2 import remote_execution_pb2' 2>/dev/null
}

# start_reapi_grid NAME WORKERS [KILN UP OPTION...]: `kiln up --workers
# WORKERS --port 0 --no-auth --reapi-port 0 OPTION...`, its stores under
# $WORK/NAME; returns once kiln up has printed both addresses and every
# worker has joined, with GRID set to the scheduler's address and REAPI to
# kiln-reapi's (grpc://127.0.0.1:PORT), GRID_DIR to its KILN_DIR.
start_reapi_grid() {
  local name=$1 workers=$2 pid n=0
  shift 2
  mkdir -p "$WORK/$name"
  GRID_DIR=$WORK/$name
  KILN_DIR="$WORK/$name" "$KILN" up --workers "$workers" --port 0 --no-auth --reapi-port 0 "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  pid=$!
  UP_PIDS="$UP_PIDS $pid"
  LAST_UP_PID=$pid
  for _ in $(seq 1 400); do
    grep -q '^KILN_REAPI=grpc://127.0.0.1:' "$WORK/$name.out" 2>/dev/null &&
      grep -q '^KILN_SCHEDULER=tcp://127.0.0.1:' "$WORK/$name.out" && break
    kill -0 "$pid" 2>/dev/null || fail "kiln up died: $(cat "$WORK/$name.err")"
    sleep 0.05
  done
  grep -q '^KILN_REAPI=' "$WORK/$name.out" ||
    fail "kiln up printed no KILN_REAPI address: $(cat "$WORK/$name.out" "$WORK/$name.err")"
  GRID=$(sed -n 's/^KILN_SCHEDULER=//p' "$WORK/$name.out" | head -1)
  REAPI=$(sed -n 's/^KILN_REAPI=//p' "$WORK/$name.out" | head -1)
  LAST_UP_CHILDREN=$(pgrep -P "$pid" | tr '\n' ' ')
  UP_CHILDREN="$UP_CHILDREN $LAST_UP_CHILDREN"
  for _ in $(seq 1 400); do
    n=$(grid_status |
      "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))' 2>/dev/null || echo 0)
    [ "$n" -eq "$workers" ] && break
    sleep 0.05
  done
  [ "$n" -eq "$workers" ] ||
    fail "the grid has $n workers, expected $workers: $(cat "$WORK/$name.err")"
}

# grid_store: the last start_reapi_grid's central store (SHA-256), where
# kiln up keeps it.
grid_store() { echo "$GRID_DIR/up/scheduler-sha256"; }

# grid_status: the grid's `kiln status --json` (plain TCP: --no-auth).
grid_status() { KILN_SCHEDULER=$GRID KILN_SCHEDULER_KEY=none "$KILN" status --json 2>/dev/null; }

# grid_executed: how many actions the grid's workers have run.
grid_executed() { grid_status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["executed"])'; }

# start_reapi_front NAME [KILN-REAPI OPTION...]: a second kiln-reapi (the
# one beside $KILN) in front of the last start_reapi_grid's scheduler and
# store, with the options given (kiln up passes no --tokens on); sets REAPI
# to its address. Killed on exit with the grid's processes.
start_reapi_front() {
  local name=$1 pid
  shift
  rm -f "$WORK/$name.ready"
  "$(dirname "$KILN")/kiln-reapi" --endpoint 127.0.0.1:0 --scheduler "$GRID" --no-auth \
    --store "$(grid_store)" --ready-file "$WORK/$name.ready" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  pid=$!
  disown "$pid" # killed by pid on exit; no "Killed" notice from the shell
  UP_CHILDREN="$UP_CHILDREN $pid"
  LAST_UP_CHILDREN="$LAST_UP_CHILDREN $pid"
  for _ in $(seq 1 300); do
    [ -s "$WORK/$name.ready" ] && break
    kill -0 "$pid" 2>/dev/null || fail "kiln-reapi died: $(cat "$WORK/$name.err")"
    sleep 0.05
  done
  [ -s "$WORK/$name.ready" ] || fail "kiln-reapi wrote no ready file: $(cat "$WORK/$name.err")"
  REAPI=grpc://$(head -1 "$WORK/$name.ready")
}
