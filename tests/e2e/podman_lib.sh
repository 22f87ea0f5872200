# shellcheck shell=bash
# Helpers for scenarios that run containers (sourced after lib.sh, as
# root): skip with a reason, and make podman able to run a container here.

# skip WHY: ends the scenario as skipped (CTest's SKIP_RETURN_CODE 77).
skip() { echo "SKIP: $*"; exit 77; }

# podman_ready IMAGE: returns when `podman run IMAGE true` works, else
# skips with podman's errors. Podman's defaults raise the open-file and
# process limits past what this process may (no CAP_SYS_RESOURCE in some
# VMs), and crun refuses hybrid cgroup hierarchies: then runc and this
# process's own limits are used, through a configuration of this scenario
# only (CONTAINERS_CONF).
podman_ready() {
  local image=$1 first nofile nproc
  podman run --rm "$image" true >"$WORK/probe" 2>&1 && return 0
  first=$(cat "$WORK/probe")
  "$(dirname "${BASH_SOURCE[0]}")/../../scripts/install-packages.sh" runc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  # podman itself runs with at most 32768 processes here (seen in
  # /proc/PID/limits); a container may not ask for more than it has.
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
  [ "$nofile" != unlimited ] || nofile=1048576
  cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF=$WORK/containers.conf
  podman run --rm "$image" true >"$WORK/probe" 2>&1 ||
    skip "podman cannot run a container here: '$first'; with runc and this shell's limits: '$(cat "$WORK/probe")'"
  echo "podman: using runc and nofile=$nofile nproc=$nproc (the defaults failed: $first)"
}
