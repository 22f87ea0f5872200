#!/usr/bin/env bash
# How long a client takes to give up on a scheduler whose host went silent
# (its link cut: no FIN, no RST, as when a machine dies or a switch port
# goes), against the bound the design gives (docs/architecture.md, "When
# the scheduler goes away"): TCP keepalive notices in about 10 s (idle 4 s,
# then 3 probes 2 s apart), then the grid client waits remote_timeout for
# a new session before running the action here.
#
#   scripts/bench/silent_scheduler.sh [BUILD_DIR]   # REPEAT (default 3), RT (remote_timeout, 10)
#
# A scheduler, a worker and a client in network namespaces of their own
# (tests/e2e/netns_lib.sh), CURVE. The client's `kiln run` of a 20 s
# action is on the worker when the scheduler's link goes down 3 s in; the
# table gives, from the cut: when the client warned that the grid is
# unavailable (and ran the action itself), and when `kiln run` ended.
# Needs root. About 45 s a round.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$(realpath -m "${1:-$here/out/dev}")
repeat=${REPEAT:-3}
rt=${RT:-10}
KILN=$build_dir/bin/kiln
BIN=$build_dir/bin
fail() { echo "silent_scheduler.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (network namespaces)"
ninja -C "$build_dir" kiln kiln-grid kiln-scheduler kiln-worker kiln-run-as >/dev/null || fail "build failed"
WORK=$(mktemp -d "${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-silent.XXXXXX")
source "$here/tests/e2e/netns_lib.sh"
trap 'netns_cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
netns_init || fail "$NETNS_ERROR"
host sched 1
host w1 11
host c1 21
mkdir -p "$WORK/keys" "$WORK/src"
for n in scheduler worker client; do "$KILN" keygen -o "$WORK/keys/$n" >/dev/null 2>&1; done
{
  echo "worker $(sed -n 's/^public = //p' "$WORK/keys/worker.pub") bench-worker"
  echo "client $(sed -n 's/^public = //p' "$WORK/keys/client.pub") bench-client"
} >"$WORK/keys/authorized_keys"
echo input >"$WORK/src/a"
cep=tcp://$NET.1:7010
wep=tcp://$NET.1:7011
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
warned=()
ended=()
for round in $(seq 1 "$repeat"); do
  on sched ip link set "${NETNS_TAG}sched" up
  spawn sched "$WORK/s.pid" "$BIN/kiln-scheduler" --client-endpoint "$cep" --worker-endpoint "$wep" \
    --store "$WORK/central.$round" --key "$WORK/keys/scheduler.key" \
    --authorized-keys "$WORK/keys/authorized_keys" >>"$WORK/scheduler.log" 2>&1
  spawn w1 "$WORK/w.pid" "$BIN/kiln-worker" --scheduler "$wep" --id w1 --slots 1 \
    --store "$WORK/w.$round/store" --work-dir "$WORK/w.$round/work" --key "$WORK/keys/worker.key" \
    --scheduler-key "$WORK/keys/scheduler.pub" >>"$WORK/worker.log" 2>&1
  sleep 1.5
  (cd "$WORK" && on c1 env KILN_DIR="$WORK/cache.$round" KILN_SCHEDULER="$cep" \
    KILN_SCHEDULER_KEY="$WORK/keys/scheduler.pub" KILN_CLIENT_KEY="$WORK/keys/client.key" \
    KILN_REMOTE_TIMEOUT="$rt" "$KILN" run -i src -o "out.$round" -- \
    sh -c "sleep 20; echo $round > out.$round" >"$WORK/run.out" 2>"$WORK/run.err") &
  run=$!
  sleep 3
  cut=$(date +%s.%N)
  on sched ip link set "${NETNS_TAG}sched" down
  warn=""
  while kill -0 "$run" 2>/dev/null; do
    if [ -z "$warn" ] && grep -q 'grid is unavailable' "$WORK/run.err"; then warn=$(date +%s.%N); fi
    sleep 0.1
  done
  wait "$run" || fail "kiln run failed: $(cat "$WORK/run.err")"
  end=$(date +%s.%N)
  [ -n "$warn" ] || fail "kiln run never said the grid was unavailable: $(cat "$WORK/run.err")"
  warned+=("$(secs "$cut" "$warn")")
  ended+=("$(secs "$cut" "$end")")
  echo "round $round: warned ${warned[-1]} s after the cut, ended ${ended[-1]} s after" >&2
  kill -9 "$(cat "$WORK/s.pid")" "$(cat "$WORK/w.pid")" 2>/dev/null || true
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
w=$(median "${warned[@]}")
e=$(median "${ended[@]}")
bound=$((10 + rt))
printf '\nscheduler host gone silent (link cut), remote_timeout %s s; medians of %s\n' "$rt" "$repeat"
printf '| from the cut | seconds | design bound |\n|---|---|---|\n'
printf '| client gives up on the grid, runs the action here | %s | ~%s (keepalive ~10 + remote_timeout %s): %s |\n' \
  "$w" "$bound" "$rt" "$(awk -v a="$w" -v b="$bound" 'BEGIN { printf "%.2fx", a / b }')"
printf '| kiln run ends (the 20 s action run here) | %s | ~%s |\n' "$e" "$((bound + 20))"
