#!/usr/bin/env bash
# The container image of scripts/deploy/image/: build.sh makes it from
# Debian's packages and this build's binaries (the root file system cached
# under ${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/image, so a second run skips
# mmdebstrap), then a worker runs in it against a scheduler on this host:
#   podman run --network=host, the worker's key as a podman secret (mode
#   0400, its user's), /proc unmasked and the seccomp profile of
#   seccomp-profile.py, so bubblewrap sandboxes every action (docs/deploy.md)
# and checks: kiln status names the containerised worker, with
# sandbox=bubblewrap; a `kiln run` from the host runs there (its input in,
# its output and stdout back, the image's release file visible, the
# container's secrets not); `podman stop` drains a running action and the
# worker exits 0. Every container, image tag and secret made here is
# removed at the end.
#
# Needs root. Where podman cannot run a container here even with the
# fallback of podman_lib.sh, the test is skipped (exit 77) with podman's
# own error.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"
source "$(dirname "$0")/podman_lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)

[ "$(id -u)" -eq 0 ] || skip "needs root (mmdebstrap's root mode, podman's root store)"
"$repo/scripts/install-packages.sh" podman mmdebstrap python3

suffix="$$-$RANDOM"
tag=localhost/kiln-e2e:$suffix
ctr=kiln-e2e-worker-$suffix
secret=kiln-e2e-worker-key-$suffix
cleanup_image() {
  podman rm -f -t 0 "$ctr" >/dev/null 2>&1 || true
  podman rmi -f "$tag" >/dev/null 2>&1 || true
  podman secret rm "$secret" >/dev/null 2>&1 || true
  cleanup_grid
}
trap cleanup_image EXIT

# The image, cold or from the cache.
started=$(date +%s)
KILN_IMAGE_CACHE="${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/image" \
  "$repo/scripts/deploy/image/build.sh" "$BIN/.." "$tag" >"$WORK/build.out" 2>"$WORK/build.err" ||
  fail "build.sh failed: $(tail -20 "$WORK/build.err")"
echo "image built in $(($(date +%s) - started)) s: $(grep -E 'MiB|cache' "$WORK/build.err" | tr '\n' ' ')"

podman_ready "$tag"

client_port=$(free_port)
worker_port=$(free_port)
start_scheduler "$client_port" "$worker_port"
export KILN_SCHEDULER=$CLIENT_EP

python3 "$repo/scripts/deploy/image/seccomp-profile.py" >"$WORK/seccomp.json" ||
  fail "seccomp-profile.py failed"
podman secret create "$secret" "$KEYS/worker.key" >/dev/null || fail "podman secret create failed"
id=ctr-$suffix
podman run -d --name "$ctr" --network=host \
  --security-opt 'unmask=/proc/*' --security-opt "seccomp=$WORK/seccomp.json" \
  --secret "$secret,uid=10001,gid=10001,mode=0400" \
  "$tag" kiln-worker --scheduler "$WORKER_EP" --id "$id" --slots 2 --heartbeat-ms 200 \
  --key "/run/secrets/$secret" --scheduler-key "$(sed -n 's/^public = //p' "$KEYS/scheduler.pub")" \
  --store /var/lib/kiln/worker --no-toolchains >"$WORK/run.out" 2>&1 ||
  fail "podman run failed: $(cat "$WORK/run.out")"
for _ in $(seq 1 100); do
  n=$("$KILN" status --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))' || echo 0)
  [ "$n" -ge 1 ] && break
  [ "$(podman inspect -f '{{.State.Running}}' "$ctr")" = true ] ||
    fail "the worker's container stopped: $(podman logs "$ctr" 2>&1 | tail -5)"
  sleep 0.1
done
expect_exit 0 "$KILN" status --json
python3 - "$WORK/out" "$id" <<'EOF' || fail "kiln status does not show the container's worker: $(cat "$WORK/out")"
import json, sys
workers = json.load(open(sys.argv[1]))["workers"]
assert [w["id"] for w in workers] == [sys.argv[2]], workers
assert workers[0]["platform"].get("sandbox") == "bubblewrap", workers[0]
EOF
expect_exit 0 "$KILN" status
grep -q "^  $id .*sandbox bubblewrap" "$WORK/out" || fail "kiln status: $(cat "$WORK/out")"

# An action from this host runs in the container, sandboxed.
mkdir -p "$WORK/proj" && cd "$WORK/proj"
echo "made on the host" >in.txt
expect_exit 0 "$KILN" run -i in.txt -o out.txt -- \
  sh -c 'tr a-z A-Z <in.txt >out.txt; cat /etc/kiln-image-release; ls /run/secrets 2>/dev/null || echo no-secrets'
[ "$(cat out.txt)" = "MADE ON THE HOST" ] || fail "the action's output: $(cat out.txt)"
grep -q '^kiln image ' "$WORK/out" || fail "the action did not run in the image: $(cat "$WORK/out")"
grep -qx 'no-secrets' "$WORK/out" || fail "an action sees the container's secrets: $(cat "$WORK/out")"

# podman stop (SIGTERM through tini) lets a running action finish.
"$KILN" run --no-cache -- sh -c 'sleep 2; echo drained' >"$WORK/drain.out" 2>&1 &
drain_pid=$!
for _ in $(seq 1 100); do
  running=$("$KILN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["running"])')
  [ "$running" -ge 1 ] && break
  sleep 0.05
done
[ "$running" -ge 1 ] || fail "the action never started"
podman stop -t 30 "$ctr" >/dev/null || fail "podman stop failed"
wait "$drain_pid" || fail "the action was not drained: $(cat "$WORK/drain.out")"
[ "$(cat "$WORK/drain.out")" = drained ] || fail "the drained action printed: $(cat "$WORK/drain.out")"
code=$(podman inspect -f '{{.State.ExitCode}}' "$ctr")
[ "$code" = 0 ] || fail "the worker exited $code after SIGTERM: $(podman logs "$ctr" 2>&1 | tail -5)"
echo "deploy_image: worker in $tag ran and drained actions from the host"
