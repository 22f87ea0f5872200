#!/usr/bin/env bash
# Hostile input to the real grid (a kiln-scheduler, two kiln-worker
# daemons and kiln clients on 127.0.0.1): actions whose declared outputs
# leave their directory, or are symlinks out of it, are refused and write
# nothing; garbage on both of the scheduler's ports changes nothing (it
# keeps serving, and keeps its workers). Untrusted input: it runs under the
# sanitizers in CI. The grid under load and through failures:
# tests/e2e/grid.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"

client_port=$(free_port)
worker_port=$(free_port)
start_scheduler "$client_port" "$worker_port"
start_worker w1 2
start_worker w2 2
wait_workers 2
export KILN_SCHEDULER=$CLIENT_EP
mkdir -p "$WORK/proj"
cd "$WORK/proj"

# --- hostile outputs are refused ---------------------------------------------
expect_exit 2 "$KILN" run -o ../escape -- sh -c 'echo x > ../escape'
expect_exit 2 "$KILN" run -o /etc/passwd -- true
expect_exit 125 "$KILN" run -o stolen -- ln -s /etc/passwd stolen
expect_err "kiln: error:"
[ ! -e stolen ] || fail "a refused output was written"

# --- garbage on both ports: the scheduler keeps serving --------------------
for port in "$client_port" "$worker_port"; do
  head -c 65536 /dev/urandom >"/dev/tcp/127.0.0.1/$port" 2>/dev/null || true
  printf '\xff\x00\x00\x00\x00\x00\x00\x00\x7f\x03' >"/dev/tcp/127.0.0.1/$port" 2>/dev/null || true
done
expect_exit 0 "$KILN" status
grep -q "workers    2" "$WORK/out" || fail "workers lost after garbage: $(cat "$WORK/out")"
echo "grid_hostile: all scenarios passed"
