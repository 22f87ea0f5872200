#!/usr/bin/env bash
# The grid across hosts (issue "The fleet"): leveldb 1.23 (Release, with
# its tests) built through the launcher from a client in a network
# namespace of its own against a scheduler and three workers, each in its
# own namespace on a bridge (tests/e2e/netns_lib.sh), speaking CURVE,
# against the plain compiler on the same machine.
#
#   plain        ninja -j2 with g++, no launcher (the baseline)
#   grid cold    a fresh client (empty KILN_DIR), an empty scheduler store:
#                every compile preprocessed here, compiled on a worker
#   grid warm    another fresh client (a second CI runner): every compile a
#                hit in the scheduler's action cache, fetched from it
#
# The "hosts" share this machine's cores: each worker's namespace runs in
# a cgroup limited to CPU_PER_WORKER of a core (default 0.67, so the three
# add up to two cores, what the plain build gets), with SLOTS slots each
# (default 1); the client runs ninja -j JOBS (default 6). So the ratio is
# the grid's cost (preprocessing, transfers, CURVE, the sandbox, cgroup
# scheduling), not a speedup that more machines would bring.
#
#   scripts/bench/fleet.sh [BUILD_DIR]     # REPEAT=N for medians (default 1)
# Needs root (namespaces, cgroups). About 3 minutes per repeat on 2 cores.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$(realpath -m "${1:-$here/out/dev}")
repeat=${REPEAT:-1}
cpu=${CPU_PER_WORKER:-0.67}
slots=${SLOTS:-1}
jobs=${JOBS:-6}
BIN=$build_dir/bin
KILN=$BIN/kiln
fail() { echo "fleet.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, cgroups)"
"$here/scripts/install-packages.sh" iproute2 g++ cmake ninja-build python3 libgtest-dev \
  libgmock-dev libbenchmark-dev >&2
ninja -C "$build_dir" kiln kiln-grid kiln-scheduler kiln-worker kiln-run-as >/dev/null ||
  fail "building in $build_dir failed"
src=${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb
"$here/scripts/fetch-leveldb.sh" "$src" >&2

WORK=$(mktemp -d "${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-fleet.XXXXXX")
source "$here/tests/e2e/netns_lib.sh"
cleanup() {
  netns_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
netns_init || fail "$NETNS_ERROR"
host sched 1
host w1 11
host w2 12
host w3 13
host c1 21

mkdir -p "$WORK/keys"
for n in scheduler worker client; do
  "$KILN" keygen -o "$WORK/keys/$n" >/dev/null 2>&1 || fail "kiln keygen $n"
done
{
  echo "worker $(sed -n 's/^public = //p' "$WORK/keys/worker.pub") bench-workers"
  echo "client $(sed -n 's/^public = //p' "$WORK/keys/client.pub") bench-clients"
} >"$WORK/keys/authorized_keys"
CLIENT_EP=tcp://$NET.1:7010
WORKER_EP=tcp://$NET.1:7011

cp -a "$src" "$WORK/leveldb"
now() { date +%s.%N; }
# build DIR [LAUNCHER [JOBS]]: configure and build; prints the ninja step's seconds.
build() {
  local flags=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
    -DLEVELDB_BUILD_TESTS=ON -DLEVELDB_BUILD_BENCHMARKS=OFF)
  [ -n "${2:-}" ] && flags+=(-DCMAKE_C_COMPILER_LAUNCHER="$2" -DCMAKE_CXX_COMPILER_LAUNCHER="$2")
  rm -rf "$1"
  cmake -S "$WORK/leveldb" -B "$1" "${flags[@]}" >"$1.configure.log" 2>&1 || fail "configure $1"
  local t0 t1
  t0=$(now)
  ninja -C "$1" -j "${3:-2}" >"$1.log" 2>&1 || fail "build $1: $(tail -5 "$1.log")"
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }'
}

start_grid() { # ROUND: an empty scheduler store, three workers in their cgroups
  spawn sched "$WORK/sched.pid" "$BIN/kiln-scheduler" --client-endpoint "$CLIENT_EP" \
    --worker-endpoint "$WORKER_EP" --store "$WORK/central.$1" --key "$WORK/keys/scheduler.key" \
    --authorized-keys "$WORK/keys/authorized_keys" >>"$WORK/scheduler.log" 2>&1
  local w
  for w in w1 w2 w3; do
    spawn "$w" "$WORK/$w.pid" "$BIN/kiln-worker" --scheduler "$WORKER_EP" --id "$w" \
      --slots "$slots" --store "$WORK/$w.$1/store" --work-dir "$WORK/$w.$1/work" \
      --key "$WORK/keys/worker.key" --scheduler-key "$WORK/keys/scheduler.pub" >>"$WORK/$w.log" 2>&1
    # Into its cgroup from here (inside `ip netns exec`, /sys has no cgroup
    # hierarchy); the actions it starts stay in it.
    cpu_limit "$w.$1" "$cpu"
    [ -n "$CGROUP_PROCS" ] || fail "no cpu cgroup controller: the workers cannot be limited"
    cat "$WORK/$w.pid" >"$CGROUP_PROCS" || fail "could not move $w into its cgroup"
  done
  for _ in $(seq 1 200); do
    [ "$(client "$KILN" status --json 2>/dev/null |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))' 2>/dev/null || echo 0)" = 3 ] && return 0
    sleep 0.1
  done
  fail "the workers did not join: $(tail -3 "$WORK/w1.log")"
}
stop_grid() {
  local p
  for p in sched w1 w2 w3; do kill -9 "$(cat "$WORK/$p.pid")" 2>/dev/null || true; done
}
client() {
  on c1 env KILN_SCHEDULER="$CLIENT_EP" KILN_SCHEDULER_KEY="$WORK/keys/scheduler.pub" \
    KILN_CLIENT_KEY="$WORK/keys/client.key" "$@"
}
# grid_build NAME: the build from a fresh client cache; prints seconds and
# checks nothing fell back to the client.
grid_build() {
  local s
  s=$(client env KILN_DIR="$WORK/cache.$1" bash -c "$(declare -f build now fail); WORK='$WORK'
    build '$WORK/$1' '$KILN' $jobs")
  KILN_DIR="$WORK/cache.$1" "$KILN" -s --json >"$WORK/$1.stats"
  python3 - "$WORK/$1.stats" <<'PY' || fail "$1 fell back to the client: $(cat "$WORK/$1.stats")"
import json, sys
m = json.load(open(sys.argv[1]))["misses"]
sys.exit(1 if m["local"] or m["remote_fallback"] else 0)
PY
  echo "$s"
}

declare -A t
for round in $(seq 1 "$repeat"); do
  t[plain]+=" $(build "$WORK/plain")"
  start_grid "$round"
  t[cold]+=" $(grid_build "cold.$round")"
  t[warm]+=" $(grid_build "warm.$round")"
  stop_grid
  echo "round $round: plain ${t[plain]##* } s, grid cold ${t[cold]##* } s, grid warm ${t[warm]##* } s" >&2
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
plain=$(median "${t[plain]}")
printf '\nleveldb across hosts (network namespaces, CURVE, sandboxed workers at %s core each, %s slot(s); client ninja -j%s), medians of %s\n' \
  "$cpu" "$slots" "$jobs" "$repeat"
printf '| build | ninja step (s) | vs plain -j2 |\n|---|---|---|\n'
for k in plain cold warm; do
  m=$(median "${t[$k]}")
  case $k in plain) name="plain g++ -j2" ;; cold) name="grid, cold (every compile on a worker)" ;;
    warm) name="grid, fresh client (every compile a grid hit)" ;; esac
  printf '| %s | %s | %s |\n' "$name" "$m" "$(awk -v a="$m" -v b="$plain" 'BEGIN { printf "%.2fx", a / b }')"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
