# Hosts of a fleet on one machine (sourced, not run): each a network
# namespace with one veth on a bridge of its own and an address on a
# private /24 (ip netns, veth, bridge), for tests/e2e/fleet.sh and
# scripts/bench/fleet.sh. Needs root and iproute2. The caller defines
# fail() and calls netns_cleanup from its EXIT trap.
#
#   netns_init            picks a tag and a /24 ($NET), makes the bridge;
#                         returns 1, with the reason in NETNS_ERROR, where
#                         namespaces cannot be made
#   host NAME OCTET       a namespace NAME at $NET.OCTET
#   on HOST CMD...        runs CMD in HOST's namespace
#   spawn HOST PIDFILE CMD...
#                         CMD in the background in HOST; PIDFILE gets CMD's
#                         own pid (`ip netns exec` forks), also in NETNS_PIDS
#   cpu_limit NAME FRACTION
#                         a cgroup NAME limited to FRACTION of one core
#                         (cgroup v1 cpu or v2 cpu.max); sets CGROUP_PROCS
#                         to its cgroup.procs, "" where neither exists
#   netns_cleanup         kills every process started here or left in a
#                         namespace, removes the namespaces, the bridge and
#                         the cgroups

NETNS_HOSTS=()
NETNS_PIDS=()
NETNS_CGROUPS=()

netns_init() {
  NETNS_TAG=k$$
  NETNS_TAG=${NETNS_TAG:0:7}
  NET=10.$((RANDOM % 200 + 30)).$((RANDOM % 250))
  local err
  if ! err=$(ip netns add "$NETNS_TAG-probe" 2>&1); then
    NETNS_ERROR="ip netns add failed: $err"
    return 1
  fi
  ip netns del "$NETNS_TAG-probe"
  ip link add "${NETNS_TAG}br" type bridge
  ip link set "${NETNS_TAG}br" up
}

host() {
  local name=$1 ns=$NETNS_TAG-$1
  ip netns add "$ns"
  ip link add "$NETNS_TAG$name" type veth peer name "${NETNS_TAG}p$name"
  ip link set "${NETNS_TAG}p$name" master "${NETNS_TAG}br" up
  ip link set "$NETNS_TAG$name" netns "$ns"
  ip -n "$ns" addr add "$NET.$2/24" dev "$NETNS_TAG$name"
  ip -n "$ns" link set "$NETNS_TAG$name" up
  ip -n "$ns" link set lo up
  NETNS_HOSTS+=("$name")
}

on() {
  local h=$1
  shift
  ip netns exec "$NETNS_TAG-$h" "$@"
}

spawn() {
  local h=$1 pidfile=$2
  shift 2
  rm -f "$pidfile"
  on "$h" bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" &
  NETNS_PIDS+=($!)
  # Killed by netns_cleanup (or by a scenario, kill -9): no job report.
  disown $!
  for _ in $(seq 1 100); do [ -s "$pidfile" ] && break; sleep 0.02; done
  [ -s "$pidfile" ] || fail "could not start $1 on $h"
  NETNS_PIDS+=("$(cat "$pidfile")")
}

cpu_limit() {
  local dir quota
  CGROUP_PROCS=
  quota=$(awk -v f="$2" 'BEGIN { printf "%d", f * 100000 }')
  if [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then
    dir=/sys/fs/cgroup/cpu/kiln-$NETNS_TAG-$1
    mkdir -p "$dir"
    echo 100000 >"$dir/cpu.cfs_period_us"
    echo "$quota" >"$dir/cpu.cfs_quota_us"
  elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
    dir=/sys/fs/cgroup/kiln-$NETNS_TAG-$1
    mkdir -p "$dir"
    echo "$quota 100000" >"$dir/cpu.max"
  else
    return 0
  fi
  NETNS_CGROUPS+=("$dir")
  CGROUP_PROCS=$dir/cgroup.procs
}

netns_cleanup() {
  local pid h cg
  for pid in "${NETNS_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for h in "${NETNS_HOSTS[@]}"; do
    for pid in $(ip netns pids "$NETNS_TAG-$h" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  done
  { wait; } 2>/dev/null || true
  for h in "${NETNS_HOSTS[@]}"; do ip netns del "$NETNS_TAG-$h" 2>/dev/null || true; done
  [ -n "${NETNS_TAG:-}" ] && ip link del "${NETNS_TAG}br" 2>/dev/null || true
  for cg in "${NETNS_CGROUPS[@]}"; do rmdir "$cg" 2>/dev/null || true; done
}
