# `kiln up` grids that a scenario starts itself (sourced after lib.sh, not
# run). start_grid starts one and waits for its workers; a scenario that
# starts kiln up its own way adds kiln up's pid to UP_PIDS and its
# scheduler's and workers' pids to UP_CHILDREN. On exit, however the
# scenario ends, stop_grid stops each kiln up as Ctrl-C would (SIGINT, up to
# 5 s), then kills whatever is left of it and its children, and removes
# $WORK.
UP_PIDS=
UP_CHILDREN=
# stop_up "PIDS" "CHILDREN": stops those kiln ups, then kills their children.
stop_up() {
  local pid
  for pid in $1; do
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for pid in $2; do kill -9 "$pid" 2>/dev/null || true; done
}
stop_grid() {
  stop_up "$UP_PIDS" "$UP_CHILDREN"
  rm -rf "$WORK"
}
trap stop_grid EXIT
# A scenario run in a subshell (compiler_lib.sh's run_scenarios) that
# starts a grid of its own stops it when the subshell ends with
# `trap stop_last_grid EXIT` after start_grid: the EXIT trap above is the
# main shell's, and sees nothing the subshell started.
stop_last_grid() { stop_up "$LAST_UP_PID" "$LAST_UP_CHILDREN"; }

# start_grid NAME WORKERS [ENV=VALUE...]: `kiln up --workers WORKERS` on a
# free loopback port, its stores under $WORK/NAME, kiln up (and so its
# scheduler and workers) started with the ENV settings given; returns once
# every worker has joined, with GRID set to the scheduler's address.
start_grid() {
  local name=$1 workers=$2 pid n=0
  shift 2
  mkdir -p "$WORK/$name"
  env KILN_DIR="$WORK/$name" "$@" "$KILN" up --workers "$workers" --port 0 \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  pid=$!
  UP_PIDS="$UP_PIDS $pid"
  LAST_UP_PID=$pid
  for _ in $(seq 1 300); do
    grep -q '^KILN_SCHEDULER=tcp://127.0.0.1:' "$WORK/$name.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || fail "kiln up died: $(cat "$WORK/$name.err")"
    sleep 0.05
  done
  grep -q '^KILN_SCHEDULER=' "$WORK/$name.out" ||
    fail "kiln up printed no address: $(cat "$WORK/$name.err")"
  GRID=$(sed -n 's/^KILN_SCHEDULER=//p' "$WORK/$name.out" | head -1)
  LAST_UP_CHILDREN=$(pgrep -P "$pid" | tr '\n' ' ')
  UP_CHILDREN="$UP_CHILDREN $LAST_UP_CHILDREN"
  for _ in $(seq 1 400); do
    n=$(KILN_SCHEDULER=$GRID "$KILN" status --json 2>/dev/null |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))' 2>/dev/null || echo 0)
    [ "$n" -eq "$workers" ] && break
    sleep 0.05
  done
  [ "$n" -eq "$workers" ] ||
    fail "the grid has $n workers, expected $workers: $(cat "$WORK/$name.err")"
}
