#!/usr/bin/env bash
# The grid across machines: a scheduler, three workers and two clients,
# each in a network namespace of its own with its own address on a bridge
# (ip netns, veth), speaking CURVE over those addresses. Real CMake builds
# of Debian's leveldb through the launcher, and what happens to a fleet:
#
#   1. two clients build at once; mid-build one worker's link is cut
#      (ip link set down: its leases come back after 3 missed heartbeats),
#      then the scheduler is killed -9 and started again on its address;
#      then a fresh client at the same path gets every compile as a grid
#      hit;
#   2. one client builds while one worker's disk is full (its store and work
#      dir on a 3 MiB tmpfs: it is quarantined, its leases retried
#      elsewhere) and another worker is slow (a tenth of a core, through
#      its cgroup, on a 2 Mbit/s link, tc tbf: backups keep it from
#      holding the build's tail).
#
# Every build ends, every object and program is byte for byte the plain
# build's, and no compile fell back to the client's own machine. Needs
# root, ip netns and tc (iproute2); exits 77 (skipped) with the reason
# where network namespaces cannot be made.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/leveldb_lib.sh"
source "$(dirname "$0")/netns_lib.sh"

KILN=$(realpath "$KILN")
BIN=$(dirname "$KILN")
root=$(cd "$(dirname "$0")/../.." && pwd)

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces"
"$root/scripts/install-packages.sh" iproute2 g++ cmake ninja-build python3 libgtest-dev \
  libgmock-dev libbenchmark-dev >&2
# Every process started here, and every process left in a namespace, is
# killed; KEEP=1 keeps $WORK (logs, builds) for a look after a failure.
cleanup() {
  netns_cleanup
  umount "$WORK/full" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
netns_init || skip "$NETNS_ERROR"
net=$NET
tag=$NETNS_TAG

host sched 1
host w1 11
host w2 12
host w3 13
host c1 21
host c2 22

# Keys: the scheduler's, one for the workers, one for the clients.
mkdir -p "$WORK/keys"
for n in scheduler worker client; do
  "$KILN" keygen -o "$WORK/keys/$n" --comment "fleet $n" >/dev/null 2>&1 || fail "kiln keygen $n"
done
{
  echo "worker $(sed -n 's/^public = //p' "$WORK/keys/worker.pub") fleet-workers"
  echo "client $(sed -n 's/^public = //p' "$WORK/keys/client.pub") fleet-clients"
} >"$WORK/keys/authorized_keys"
CLIENT_EP=tcp://$net.1:7010
WORKER_EP=tcp://$net.1:7011

# start_scheduler [STORE]: on its address, from its store (default central).
start_scheduler() {
  spawn sched "$WORK/scheduler.pid" "$BIN/kiln-scheduler" --client-endpoint "$CLIENT_EP" \
    --worker-endpoint "$WORKER_EP" --store "$WORK/${1:-central}" --key "$WORK/keys/scheduler.key" \
    --authorized-keys "$WORK/keys/authorized_keys" >>"$WORK/scheduler.log" 2>&1
  SCHED_PID=$(cat "$WORK/scheduler.pid")
}
# start_worker NAME STORE_DIR
start_worker() {
  spawn "$1" "$WORK/$1.pid" "$BIN/kiln-worker" --scheduler "$WORKER_EP" --id "$1" --slots 1 \
    --store "$2/store" --work-dir "$2/work" --key "$WORK/keys/worker.key" \
    --scheduler-key "$WORK/keys/scheduler.pub" >>"$WORK/$1.log" 2>&1
}
# client HOST ARGS...: a kiln command from a client's namespace.
client() {
  local h=$1
  shift
  on "$h" env KILN_SCHEDULER="$CLIENT_EP" KILN_SCHEDULER_KEY="$WORK/keys/scheduler.pub" \
    KILN_CLIENT_KEY="$WORK/keys/client.key" "$@"
}
status_json() { client c1 "$KILN" status --json 2>/dev/null; }
# wait_workers N [SECONDS]: until the scheduler knows N workers (30 s at
# most); a failure shows each worker's last log lines.
wait_workers() {
  local w logs=""
  for _ in $(seq 1 $((${2:-30} * 10))); do
    [ "$(status_json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))' \
      2>/dev/null || echo 0)" -eq "$1" ] && return 0
    sleep 0.1
  done
  for w in w1 w2 w3; do logs+=$'\n'"$w.log: $(tail -3 "$WORK/$w.log" 2>/dev/null | cut -c1-300)"; done
  fail "expected $1 workers: $(client c1 "$KILN" status 2>&1)$logs"
}

# The source, and the plain build every grid build must match.
cache=$(fetch_leveldb)
cp -a "$cache/leveldb" "$WORK/leveldb"
configure() { # DIR [LAUNCHER]
  local flags=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
    -DLEVELDB_BUILD_TESTS=ON -DLEVELDB_BUILD_BENCHMARKS=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
  [ -n "${2:-}" ] && flags+=(-DCMAKE_C_COMPILER_LAUNCHER="$2" -DCMAKE_CXX_COMPILER_LAUNCHER="$2")
  cmake -S "$WORK/leveldb" -B "$1" "${flags[@]}" >"$1.configure.log" 2>&1 ||
    fail "configure $1: $(tail -5 "$1.configure.log")"
}
configure "$WORK/plain"
ninja -C "$WORK/plain" -j 2 >"$WORK/plain.log" 2>&1 || fail "plain build: $(tail "$WORK/plain.log")"
compiles=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' \
  "$WORK/plain/compile_commands.json")

# build_on HOST NAME: a client's build through the launcher, in the
# background; sets BUILD_PID. Every client builds at the same path, as CI
# runners with the same checkout do ($WORK/build, its own directory bound
# there in a mount namespace of its own), so their compiles are the same
# actions and the grid runs each once.
mkdir -p "$WORK/build"
build_on() {
  mkdir -p "$WORK/$2"
  client "$1" env KILN_DIR="$WORK/cache-$2" KILN_LOGFILE="$WORK/$2.kiln.log" \
    unshare -m bash -c 'mount --make-rprivate / && mount --bind "$1" "$2" && shift 2 && "$@"' \
    bind "$WORK/$2" "$WORK/build" bash -c "$(declare -f configure fail); WORK='$WORK'
      configure '$WORK/build' '$KILN' && ninja -C '$WORK/build' -j 2" >"$WORK/$2.log" 2>&1 &
  BUILD_PID=$!
  NETNS_PIDS+=("$BUILD_PID")
}
finished() { cat "$WORK/$1.kiln.log" 2>/dev/null | wc -l; }
# check_build NAME: it passed, matches the plain build, nothing fell back.
check_build() {
  KILN_DIR="$WORK/cache-$1" "$KILN" -s --json >"$WORK/$1.stats.json"
  python3 - "$WORK/$1.stats.json" "$compiles" "$1" <<'EOF' || fail "$1: $(cat "$WORK/$1.stats.json")"
import json, sys
s, n, name = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
h, m = s["hits"], s["misses"]
assert h["total"] + m["total"] == n, f"{name}: {h['total']} hits + {m['total']} misses != {n} compiles"
assert m["local"] == 0 and m["remote_fallback"] == 0, f"{name}: compiles fell back to the client: {m}"
print(f"  {name}: {m['remote']} compiled on the grid, {h['remote']} grid hits, {h['direct'] + h['preprocessed']} local hits")
EOF
  same_outputs "$WORK/plain" "$WORK/$1"
  echo "  $1: $OUTPUTS objects and programs identical to the plain build"
}

start_scheduler
for w in w1 w2 w3; do start_worker "$w" "$WORK/$w"; done
wait_workers 3

echo "-- 1. two clients at once; a worker's link cut; the scheduler killed and restarted"
build_on c1 one
b1=$BUILD_PID
build_on c2 two
b2=$BUILD_PID
until [ "$(finished one)" -ge $((compiles / 4)) ] || ! kill -0 "$b1" 2>/dev/null; do sleep 0.2; done
on w1 ip link set "${tag}w1" down
echo "  w1's link cut at $(finished one) compiles"
until [ "$(finished one)" -ge $((compiles / 2)) ] || ! kill -0 "$b1" 2>/dev/null; do sleep 0.2; done
kill -9 "$SCHED_PID"
echo "  scheduler killed at $(finished one) compiles"
sleep 1
start_scheduler
sleep 0.5
kill -0 "$SCHED_PID" || fail "the scheduler did not start again: $(tail -3 "$WORK/scheduler.log" | cut -c1-300)"
on w1 ip link set "${tag}w1" up
t0=$(date +%s)
wait "$b1" || fail "client 1's build failed: $(tail -20 "$WORK/one.log")"
wait "$b2" || fail "client 2's build failed: $(tail -20 "$WORK/two.log")"
echo "  both builds ended $(($(date +%s) - t0)) s after the restart"
check_build one
check_build two

echo "-- a fresh client at the same path takes every compile from the grid"
# (another CI runner with the same checkout path: sccache-dist's shared cache)
build_on c2 four
wait "$BUILD_PID" || fail "the fresh client's build failed: $(tail -20 "$WORK/four.log")"
KILN_DIR="$WORK/cache-four" "$KILN" -s --json >"$WORK/four.stats.json"
python3 - "$WORK/four.stats.json" "$compiles" "$(distinct_compiles "$WORK/plain")" <<'EOF' ||
import json, sys
s, n, distinct = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
h, m = s["hits"], s["misses"]
assert h["total"] == n and m["total"] == 0, f"{h['total']} hits, {m['total']} misses of {n} compiles"
assert h["remote"] >= distinct, f"{h['remote']} grid hits, {distinct} distinct compiles"
print(f"  four: {h['remote']} grid hits, {h['direct'] + h['preprocessed']} local hits, no compile ran")
EOF
  fail "four: $(cat "$WORK/four.stats.json")"
same_outputs "$WORK/plain" "$WORK/four"
echo "  four: $OUTPUTS objects and programs identical to the plain build"

echo "-- 2. a worker with a full disk and one on a slow link"
# A new scheduler with an empty store, so that every compile runs again.
kill -9 "$SCHED_PID" || fail "the scheduler died during scenario 1: $(tail -3 "$WORK/scheduler.log" | cut -c1-300)"
start_scheduler central-2
wait_workers 3
# w3 and w2 go, and the scheduler sees them go (else their old sessions
# would count as the new ones below).
kill -9 "$(cat "$WORK/w3.pid")" "$(cat "$WORK/w2.pid")"
wait_workers 1
mkdir -p "$WORK/full"
mount -t tmpfs -o size=3m tmpfs "$WORK/full"
start_worker w3 "$WORK/full"
# w2 again, in a cgroup of its own limited to a tenth of a core, joined
# from here: inside `ip netns exec` /sys is the namespace's own, without
# the cgroup hierarchy. What it starts later (its actions) stays in it.
start_worker w2 "$WORK/w2"
cpu_limit slow-w2 0.1
if [ -n "$CGROUP_PROCS" ]; then
  echo "$(cat "$WORK/w2.pid")" >"$CGROUP_PROCS" || fail "could not move w2 into its cgroup"
  grep -q "kiln-$tag-slow-w2" "/proc/$(cat "$WORK/w2.pid")/cgroup" || fail "w2 is not in its cgroup"
else
  echo "  (no cpu cgroup controller here: w2 is slow by its link only)"
fi
wait_workers 3
# Slowed once it has joined: a slow worker during the build, not one slow
# to start.
for side in "on w2 tc qdisc add dev ${tag}w2" "tc qdisc add dev ${tag}pw2"; do
  $side root tbf rate 2mbit burst 32kbit latency 400ms || fail "tc failed: $side"
done
t0=$(date +%s)
build_on c1 three
wait "$BUILD_PID" || fail "the build with a full disk and a slow link failed: $(tail -20 "$WORK/three.log")"
echo "  the build took $(($(date +%s) - t0)) s"
check_build three
status_json >"$WORK/status.json"
python3 - "$WORK/status.json" <<'EOF' || fail "status: $(cat "$WORK/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
print(f"  {s['executed']} actions executed; backups started {s['backups']}, first {s['backups_won']}")
for w in s["workers"]:
    q = w["quarantined_ms_left"]
    print(f"  {w['id']}: {'quarantined %d ms more' % q if q else 'not quarantined'}")
EOF
echo "  w3 ran out of space $(grep -c 'No space left on device' "$WORK/w3.log" || true) times"
echo "fleet: all scenarios passed"
