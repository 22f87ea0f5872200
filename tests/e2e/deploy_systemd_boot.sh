#!/usr/bin/env bash
# The systemd units running under a real systemd, with all their hardening:
# this machine's PID 1 need not be systemd, so Debian 12 with systemd (the
# image of scripts/deploy/image/build.sh plus systemd, its root file system
# cached like deploy_image.sh's) boots in a privileged podman container on
# the host's network, install.sh installs this build and the units in it,
# and from this host:
#   - kiln status names the unit's worker (the container's host name) with
#     sandbox=bubblewrap, and both daemons run as a dynamic user, not root;
#   - a `kiln run` action runs in the worker's sandbox: output back, and
#     neither the worker's key in /etc/kiln nor systemd's credentials
#     directory within its reach;
#   - `systemctl reload kiln-scheduler` admits a client key added to
#     /etc/kiln/authorized_keys;
#   - `systemctl stop kiln-worker` drains a running action (KillMode=mixed);
#   - kiln-worker@NAME registers as HOST-NAME.
# The container is privileged so that systemd can set up each unit's
# namespaces; units that would write the host's kernel settings from it
# (sysctl, binfmt, modules) are masked. Needs root; skipped (77) where
# podman cannot run a container.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"
source "$(dirname "$0")/podman_lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)

[ "$(id -u)" -eq 0 ] || skip "needs root (mmdebstrap's root mode, podman's root store, a privileged container)"
"$repo/scripts/install-packages.sh" podman mmdebstrap

suffix="$$-$RANDOM"
tag=localhost/kiln-e2e-systemd:$suffix
ctr=kiln-e2e-systemd-$suffix
host=kiln-sd-$suffix
cleanup_boot() {
  podman rm -f -t 0 "$ctr" >/dev/null 2>&1 || true
  podman rmi -f "$tag" >/dev/null 2>&1 || true
  cleanup_grid
}
trap cleanup_boot EXIT

started=$(date +%s)
KILN_IMAGE_PACKAGES="systemd systemd-sysv" KILN_IMAGE_CACHE="${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/image" \
  "$repo/scripts/deploy/image/build.sh" "$BIN/.." "$tag" >"$WORK/build.out" 2>"$WORK/build.err" ||
  fail "build.sh failed: $(tail -20 "$WORK/build.err")"
echo "image built in $(($(date +%s) - started)) s: $(grep -E 'MiB|cache' "$WORK/build.err" | tr '\n' ' ')"
podman_ready "$tag"

# In the container: `in_ctr CMD...` as root.
in_ctr() { podman exec -w / "$ctr" "$@"; }
journal() { in_ctr journalctl --no-pager -o cat -n 30 -u kiln-scheduler -u kiln-worker -u 'kiln-worker@*' 2>&1; }

masked="systemd-sysctl.service systemd-binfmt.service systemd-modules-load.service proc-sys-fs-binfmt_misc.automount"
# systemd mounts its credentials in a namespace of its own and moves them
# to /run/credentials, which reaches PID 1's view only through shared
# mount propagation: a container's root is private until made shared.
podman run -d --name "$ctr" --hostname "$host" --privileged --systemd=always --network=host \
  --user root -v "$repo:/src:ro" -v "$BIN:/build/bin:ro" --entrypoint /bin/sh "$tag" -c \
  "for u in $masked; do ln -sf /dev/null /etc/systemd/system/\$u; done
   mount --make-rshared / && exec /sbin/init" >"$WORK/run.out" 2>&1 ||
  fail "podman run failed: $(cat "$WORK/run.out")"
for _ in $(seq 1 120); do # until systemd answers and has booted, 60 s at most
  state=$(timeout 10 podman exec "$ctr" systemctl is-system-running 2>&1) || true
  case "$state" in running | degraded) break ;; esac
  sleep 0.5
done
case "$state" in
  running | degraded) ;;
  *) fail "systemd did not come up in the container: $state; $(podman logs "$ctr" 2>&1 | tail -5)" ;;
esac

# The image's /var/lib/kiln is its container user's (uid 10001, 0750): a
# host has none, and systemd could not reach StateDirectory=kiln/scheduler
# through it as the dynamic user.
in_ctr rm -rf /var/lib/kiln
in_ctr /src/scripts/deploy/systemd/install.sh /build >"$WORK/install.out" 2>&1 ||
  fail "install.sh failed in the container: $(cat "$WORK/install.out")"
client_port=$(free_port)
worker_port=$(free_port)
make_keys
for f in scheduler.key worker.key scheduler.pub authorized_keys; do
  podman cp "$KEYS/$f" "$ctr:/etc/kiln/$f"
done
in_ctr sh -c 'chown root:root /etc/kiln/* && chmod 0600 /etc/kiln/*.key && chmod 0644 /etc/kiln/*.pub /etc/kiln/authorized_keys'
in_ctr sh -c "printf 'KILN_CLIENT_ENDPOINT=tcp://127.0.0.1:$client_port\nKILN_WORKER_ENDPOINT=tcp://127.0.0.1:$worker_port\nKILN_MAX_SIZE=1G\n' >/etc/kiln/scheduler.env
  printf 'KILN_SCHEDULER_WORKER=tcp://127.0.0.1:$worker_port\nKILN_MAX_SIZE=1G\nKILN_WORKER_OPTS=--slots 2 --no-toolchains\n' >/etc/kiln/worker.env"
in_ctr systemctl start kiln-scheduler kiln-worker || fail "systemctl start failed: $(journal)"
# Both still up, and never restarted, a moment later.
sleep 1
for unit in kiln-scheduler kiln-worker; do
  if [ "$(in_ctr systemctl is-active $unit)" != active ] ||
    [ "$(in_ctr systemctl show -p NRestarts --value $unit)" != 0 ]; then
    fail "$unit did not stay up: $(journal)"
  fi
done
CLIENT_EP=tcp://127.0.0.1:$client_port
export KILN_SCHEDULER=$CLIENT_EP
wait_workers 1
expect_exit 0 "$KILN" status
grep -q "^  $host .*sandbox bubblewrap" "$WORK/out" || fail "kiln status: $(cat "$WORK/out"); $(journal)"
for unit in kiln-scheduler kiln-worker; do
  uid=$(in_ctr sh -c "stat -c %u /proc/\$(systemctl show -p MainPID --value $unit)")
  [ "$uid" != 0 ] || fail "$unit runs as root"
done

mkdir -p "$WORK/proj" && cd "$WORK/proj"
echo "from the host" >in.txt
expect_exit 0 "$KILN" run -i in.txt -o out.txt -- sh -c 'tr a-z A-Z <in.txt >out.txt
  cat /etc/kiln/worker.key 2>/dev/null || echo no-key; ls /run/credentials 2>/dev/null || echo no-credentials'
[ "$(cat out.txt)" = "FROM THE HOST" ] || fail "the action's output: $(cat out.txt)"
[ "$(cat "$WORK/out")" = "$(printf 'no-key\nno-credentials')" ] ||
  fail "an action reached the worker's key: $(cat "$WORK/out")"

# reload re-reads the authorized keys.
"$KILN" keygen -o "$KEYS/late" >/dev/null 2>&1 || fail "kiln keygen failed"
expect_exit 1 env KILN_CLIENT_KEY="$KEYS/late.key" "$KILN" status
in_ctr sh -c "echo 'client $(sed -n 's/^public = //p' "$KEYS/late.pub") late' >>/etc/kiln/authorized_keys"
in_ctr systemctl reload kiln-scheduler || fail "systemctl reload failed: $(journal)"
for _ in $(seq 1 50); do
  KILN_CLIENT_KEY="$KEYS/late.key" "$KILN" status >/dev/null 2>&1 && break
  sleep 0.1
done
expect_exit 0 env KILN_CLIENT_KEY="$KEYS/late.key" "$KILN" status

# stop drains a running action.
"$KILN" run --no-cache -- sh -c 'sleep 2; echo drained' >"$WORK/drain.out" 2>&1 &
drain_pid=$!
for _ in $(seq 1 100); do
  running=$("$KILN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["running"])')
  [ "$running" -ge 1 ] && break
  sleep 0.05
done
[ "$running" -ge 1 ] || fail "the action never started"
in_ctr systemctl stop kiln-worker || fail "systemctl stop failed"
wait "$drain_pid" || fail "the action was not drained: $(cat "$WORK/drain.out"); $(journal)"
[ "$(cat "$WORK/drain.out")" = drained ] || fail "the drained action printed: $(cat "$WORK/drain.out")"

# A template instance.
in_ctr systemctl start kiln-worker@t1 || fail "systemctl start kiln-worker@t1 failed: $(journal)"
wait_workers 1
expect_exit 0 "$KILN" status
grep -q "^  $host-t1 .*sandbox bubblewrap" "$WORK/out" || fail "kiln status: $(cat "$WORK/out")"
echo "deploy_systemd_boot: the units ran a grid under systemd $(in_ctr systemctl --version | head -1 | cut -d' ' -f2)"
