#!/usr/bin/env bash
# Sandboxed actions through the real grid: a kiln-scheduler and bubblewrap
# workers on 127.0.0.1, and `kiln run` actions that try to get out of their
# directories. Each attempt must fail or find nothing, and nothing may be
# left behind; the embedded default (no scheduler) is sandboxed the same
# way. A worker whose sandbox cannot work refuses to start unless told
# --sandbox=none, and `kiln status` says which workers run unsandboxed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"

client_port=$(free_port)
worker_port=$(free_port)
start_scheduler "$client_port" "$worker_port"
start_worker s1 2
wait_workers 1
export KILN_SCHEDULER=$CLIENT_EP

mkdir -p "$WORK/proj" && cd "$WORK/proj"
secret="$WORK/host-secret"
echo "the host's data" >"$secret"
listener_port=$(free_port)
python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', $listener_port)); s.listen(8); time.sleep(120)" &
PIDS+=($!)

# attempt NAME SCRIPT: runs SCRIPT as an action (on the grid while
# KILN_SCHEDULER is set); its stdout lands in $WORK/out.
attempt() { expect_exit 0 "$KILN" run --no-cache -- sh -c "$2; true"; }

for where in grid local; do
  [ "$where" = local ] && unset KILN_SCHEDULER

  # Writing outside its directory: the system, the host's files, the work root.
  attempt write "for p in /usr/kiln-x /etc/kiln-x $WORK/kiln-x $WORK/s1/work/kiln-x /kiln-x; do
    (echo x > \$p) 2>/dev/null && echo WROTE \$p; done"
  [ ! -s "$WORK/out" ] || fail "$where: an action wrote outside its directory: $(cat "$WORK/out")"
  for p in /usr/kiln-x /etc/kiln-x "$WORK/kiln-x" "$WORK/s1/work/kiln-x"; do
    [ ! -e "$p" ] || fail "$where: $p was written"
  done

  # Reading the host's files, the worker's store, other actions' directories
  # (the work root holds only the action's own).
  attempt read "cat $secret 2>/dev/null; ls $WORK/s1/store $HOME 2>/dev/null"
  [ ! -s "$WORK/out" ] || fail "$where: an action read the host: $(cat "$WORK/out")"
  attempt others "ls \$(dirname \$PWD)"
  [ "$(wc -l <"$WORK/out")" -eq 1 ] || fail "$where: an action sees other actions: $(cat "$WORK/out")"

  # /sys is not there to write.
  attempt sys "(echo 1 > /sys/kernel/kiln-x) 2>/dev/null && echo WROTE; ls /sys 2>/dev/null | head -1"
  [ ! -s "$WORK/out" ] || fail "$where: /sys is visible: $(cat "$WORK/out")"

  # The network: unreachable unless the action asks for it.
  attempt net "bash -c 'exec 3<>/dev/tcp/127.0.0.1/$listener_port' 2>/dev/null && echo CONNECTED"
  [ ! -s "$WORK/out" ] || fail "$where: an action reached the host's network"
  expect_exit 0 "$KILN" run --no-cache --platform network=on -- \
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$listener_port && echo CONNECTED"
  [ "$(cat "$WORK/out")" = CONNECTED ] || fail "$where: network=on did not give the network"

  # A background process does not outlive its action.
  marker="kiln-e2e-leftover-$where-$$"
  attempt leftover "setsid bash -c 'exec -a $marker sleep 300' & nohup bash -c 'exec -a $marker sleep 300' >/dev/null 2>&1 & sleep 0.3"
  sleep 0.5
  ! pgrep -f "$marker" >/dev/null || fail "$where: a background process survived its action"

  # What the action may do still works: its own files, /tmp, exit codes.
  expect_exit 0 "$KILN" run --no-cache -o made.txt -- \
    sh -c 'echo private > /tmp/t && cat /tmp/t > made.txt && id -u >> made.txt'
  [ "$(head -1 made.txt)" = private ] || fail "$where: the action could not use its own files"
  if [ "$(id -u)" = 0 ]; then
    [ "$(sed -n 2p made.txt)" != 0 ] || fail "$where: a root-started executor ran the action as root"
  fi
  expect_exit 3 "$KILN" run --no-cache -- sh -c 'exit 3'
  rm -f made.txt
done
export KILN_SCHEDULER=$CLIENT_EP

# The embedded default says why when bubblewrap cannot work and it was asked for.
expect_exit 1 env PATH=/nonexistent KILN_SANDBOX=bubblewrap KILN_SCHEDULER= "$KILN" run --no-cache -- /bin/true
expect_err "(set sandbox=none to run actions without one)"
grep -q "^kiln: error: .* is not \(installed\|on the PATH\)" "$WORK/err" || fail "unclear: $(cat "$WORK/err")"

# A worker whose sandbox cannot work refuses to start, and says how to go on.
expect_exit 1 env PATH=/nonexistent "$BIN/kiln-worker" --scheduler "$WORKER_EP" --id s2 \
  --store "$WORK/s2/store" --key "$KEYS/worker.key" --scheduler-key "$KEYS/scheduler.pub"
grep -q "^kiln-worker: error: .* is not \(installed\|on the PATH\).*--sandbox=none" "$WORK/err" ||
  fail "the worker did not say why it refused: $(cat "$WORK/err")"
start_worker s3 1 --sandbox=none
wait_workers 2
expect_exit 0 "$KILN" status
grep -q "s3 .*sandbox none" "$WORK/out" || fail "kiln status does not name the unsandboxed worker: $(cat "$WORK/out")"
grep -q "s1 .*sandbox bubblewrap" "$WORK/out" || fail "kiln status: $(cat "$WORK/out")"

# An action may require a sandboxed worker: it never lands on s3.
for i in 1 2 3 4 5 6; do
  expect_exit 0 "$KILN" run --no-cache --platform sandbox=bubblewrap -- sh -c 'ls /sys 2>/dev/null | wc -l'
  [ "$(cat "$WORK/out")" = 0 ] || fail "a sandbox=bubblewrap action ran unsandboxed"
done
echo "sandbox: all scenarios passed"
