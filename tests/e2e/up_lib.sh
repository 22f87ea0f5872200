# A `kiln up` grid that a scenario starts itself (sourced after lib.sh, not
# run): the scenario sets UP_PID to kiln up's pid and UP_CHILDREN to its
# scheduler's and workers' pids; on exit, however the scenario ends,
# stop_grid stops kiln up as Ctrl-C would (SIGINT, up to 5 s), then kills
# whatever is left of it and its children, and removes $WORK.
UP_PID=
UP_CHILDREN=
stop_grid() {
  if [ -n "$UP_PID" ]; then
    kill -INT "$UP_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$UP_PID" 2>/dev/null || true
    wait "$UP_PID" 2>/dev/null || true
  fi
  for pid in $UP_CHILDREN; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap stop_grid EXIT
