#!/usr/bin/env bash
# Bazel against kiln-reapi: Debian's bazel-bootstrap (Bazel 4.2) builds and
# tests the C++ workspace tests/e2e/bazel_ws/main (a library, a binary, a
# test) with no network at all, then
#   a. locally: the reference outputs;
#   b. with --remote_cache on a grid started with --reapi-allow-updates:
#      after `bazel clean`, every action of `bazel test //...` is a remote
#      cache hit, and the outputs are byte-identical to (a);
#   c. with --remote_executor on a fresh grid: every action runs on kiln's
#      workers (Bazel's "N remote", the grid's executed count), the test
#      passes remotely, and the outputs are byte-identical to (a); after
#      `bazel clean`, every action is a hit in the action cache the
#      workers' results went to.
# Skipped (77) only where bazel cannot run at all. Every Bazel server runs
# under $WORK and is shut down on exit, however the script ends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/up_lib.sh"
source "$here/reapi_lib.sh"

command -v bazel >/dev/null || { echo "SKIP: no bazel (Debian's bazel-bootstrap)"; exit 77; }

# The workspace is copied: Bazel writes beside it, and its stand-in
# repositories are found at ../ (tests/e2e/bazel_ws/main/WORKSPACE).
cp -r "$here/bazel_ws" "$WORK/ws"
cd "$WORK/ws/main"
# No rc file but these options: Debian's /etc/bazel/bazelrc names the same
# install base (the unpacked server Debian ships) and adds --sandbox_debug.
# A server left behind exits by itself after --max_idle_secs.
startup=(--nosystem_rc --nohome_rc --noworkspace_rc --install_base=/usr/share/bazel
  --trust_install_base --output_user_root="$WORK/bazel" --max_idle_secs=300)
common=(--symlink_prefix=/ --color=no --curses=no --noshow_progress --show_result=0
  --test_output=errors)
# One output base (and so one Bazel server) a phase.
BASES="local cache exec"
# bz OUTPUT_BASE COMMAND ARGS...: one Bazel command, its output in
# $WORK/bazel.log and appended to the phase's $WORK/bazel.BASE.log.
bz() {
  local base=$1 rc=0
  shift
  timeout 300 bazel "${startup[@]}" --output_base="$WORK/bazel/$base" "$@" >"$WORK/bazel.log" 2>&1 || rc=$?
  { echo "== bazel $*"; cat "$WORK/bazel.log"; } >>"$WORK/bazel.$base.log"
  PHASE_LOG=$WORK/bazel.$base.log
  return $rc
}
stop_bazel() {
  local base pid
  cd "$WORK/ws/main" 2>/dev/null || return 0
  for base in $BASES; do
    [ -d "$WORK/bazel/$base" ] || continue
    timeout 30 bazel "${startup[@]}" --output_base="$WORK/bazel/$base" shutdown >/dev/null 2>&1 || true
    pid=$(cat "$WORK/bazel/$base/server/server.pid.txt" 2>/dev/null || true)
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  chmod -R u+w "$WORK/bazel" 2>/dev/null || true
}
trap 'stop_bazel; stop_grid' EXIT

# Bazel itself runs, or the test is skipped
if ! timeout 120 bazel "${startup[@]}" --output_base="$WORK/bazel/probe" --batch info release \
  >"$WORK/bazel.log" 2>&1; then
  echo "SKIP: bazel cannot run here: $(tail -5 "$WORK/bazel.log")"
  exit 77
fi

# processes: Bazel's last "N processes: ..." summary as "kind=count" words
# ("remote cache hit" as remote_cache_hit).
processes() {
  "$PY" - "$WORK/bazel.log" <<'PYEOF'
import re, sys
lines = [l for l in open(sys.argv[1]) if re.match(r"INFO: \d+ process(es)?[:.]", l)]
if not lines:
    sys.exit("no process summary")
kinds = re.sub(r"^INFO: \d+ process(es)?[:.]\s*", "", lines[-1]).rstrip(".\n")
for part in filter(None, (p.strip() for p in kinds.split(","))):
    n, kind = part.split(" ", 1)
    print(f"{kind.replace(' ', '_')}={n}")
PYEOF
}
# bazel_warnings: Bazel's warnings and errors in this phase (a remote
# cache that fails is only a warning).
bazel_warnings() {
  grep -E -A3 '^(== bazel|WARNING|ERROR)' "$PHASE_LOG" |
    grep -v -e 'rc files are no longer being read' -e '^/etc/bazel/bazelrc' | head -60
}
# only_kinds WHAT KIND...: the last summary counts only KINDs and internal
# actions (which Bazel runs in its own process), and at least one of KINDs.
only_kinds() {
  local what=$1 summary word kind k ok n=0
  shift
  summary=$(processes) || fail "$what: $(cat "$WORK/bazel.log")"
  for word in $summary; do
    kind=${word%=*}
    ok=0
    for k in internal "$@"; do [ "$kind" = "$k" ] && ok=1; done
    [ "$ok" = 1 ] || fail "$what: Bazel ran $word, expected only $* (summary:" $summary")
$(bazel_warnings)"
    [ "$kind" = internal ] || n=$((n + ${word#*=}))
  done
  [ "$n" -gt 0 ] || fail "$what: no $* action (summary:" $summary")
$(bazel_warnings)"
  echo "$what:" $summary
}
test_passed() {
  grep -q 'Executed 1 out of 1 test: 1 test passes' "$WORK/bazel.log" ||
    grep -q '1 test passes' "$WORK/bazel.log" || fail "$1: the test did not pass: $(cat "$WORK/bazel.log")"
}
# outputs BASE DIR: copies the build's outputs (the binary, the library's
# archive and shared object, the test binary and its log) to DIR.
outputs() {
  local bin testlogs
  bz "$1" info bazel-bin || fail "bazel info: $(cat "$WORK/bazel.log")"
  bin=$(tail -1 "$WORK/bazel.log")
  testlogs=${bin%/bin}/testlogs
  mkdir -p "$2"
  for f in app/app greet/libgreet.a greet/libgreet.so greet/greet_test; do
    [ -f "$bin/$f" ] || fail "$1: no $f in $bin"
    cp "$bin/$f" "$2/${f//\//_}"
  done
  cp "$testlogs/greet/greet_test/test.log" "$2/test.log" || fail "$1: no test log"
  grep -q 'greet_test: 3 checks passed' "$2/test.log" || fail "$1: test log: $(cat "$2/test.log")"
}
same_outputs() {
  local f
  for f in "$WORK/ref"/*; do
    cmp -s "$f" "$2/$(basename "$f")" || fail "$1: $(basename "$f") differs from the local build's"
  done
  echo "$1: $(ls "$WORK/ref" | wc -l) outputs byte-identical to the local build's"
}

# all_cache_hits FILE: every spawn in Bazel's --execution_log_json_file
# FILE was a remote cache hit.
all_cache_hits() {
  "$PY" - "$1" <<'PYEOF' || fail "the execution log shows a spawn that was not a remote cache hit"
import json, sys
text, spawns, i = open(sys.argv[1]).read(), [], 0
decoder = json.JSONDecoder()
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    spawn, i = decoder.raw_decode(text, i)
    spawns.append(spawn)
misses = [s.get("mnemonic") for s in spawns if not s.get("remoteCacheHit")]
print(f"execution log: {len(spawns)} spawns, {len(spawns) - len(misses)} remote cache hits"
      + (f"; not hits: {misses}" if misses else ""))
sys.exit(1 if misses or not spawns else 0)
PYEOF
}

# a. A local build: the reference
started=$(date +%s)
bz local test "${common[@]}" //... || fail "local build: $(cat "$WORK/bazel.log")"
test_passed "local build"
only_kinds "local build" linux-sandbox local processwrapper-sandbox
outputs local "$WORK/ref"
bz local shutdown
echo "local build and test: $(($(date +%s) - started)) s"

# b. The remote cache: fill it, clean, every action a hit
remote_cache() {
  start_reapi_grid cache 1 --reapi-allow-updates
  remote=(--remote_cache="$REAPI" --remote_timeout=60)
  bz cache test "${common[@]}" "${remote[@]}" //... || fail "remote cache, cold: $(cat "$WORK/bazel.log")"
  test_passed "remote cache, cold"
  only_kinds "remote cache, cold" linux-sandbox local processwrapper-sandbox
  ! grep -q 'Remote Cache' "$WORK/bazel.log" ||
    fail "remote cache, cold: Bazel could not write to the remote cache:
$(grep -A3 'Remote Cache' "$WORK/bazel.log" | head -20)"
  bz cache clean || fail "bazel clean: $(cat "$WORK/bazel.log")"
  bz cache test "${common[@]}" "${remote[@]}" --execution_log_json_file="$WORK/cache.json" //... ||
    fail "remote cache, after clean: $(cat "$WORK/bazel.log")"
  test_passed "remote cache, after clean"
  all_cache_hits "$WORK/cache.json"
  only_kinds "remote cache, after clean" remote_cache_hit
  outputs cache "$WORK/cached"
  same_outputs "remote cache" "$WORK/cached"
}

# c. Remote execution on a fresh grid (an empty store: nothing is a hit)
remote_execution() {
  start_reapi_grid exec 2
  before=$(grid_executed)
  remote=(--remote_executor="$REAPI" --remote_timeout=120)
  bz exec test "${common[@]}" "${remote[@]}" //... || fail "remote execution: $(cat "$WORK/bazel.log")"
  test_passed "remote execution"
  only_kinds "remote execution" remote
  ran=$(processes | sed -n 's/^remote=//p')
  executed=$(($(grid_executed) - before))
  [ "$executed" -ge "$ran" ] ||
    fail "Bazel ran $ran actions remotely, but kiln's workers ran only $executed"
  echo "remote execution: kiln's workers ran $executed actions"
  outputs exec "$WORK/executed"
  same_outputs "remote execution" "$WORK/executed"
  # What the workers ran is in the action cache: after a clean, all hits
  bz exec clean || fail "bazel clean: $(cat "$WORK/bazel.log")"
  bz exec test "${common[@]}" "${remote[@]}" --execution_log_json_file="$WORK/exec.json" //... ||
    fail "remote execution, again: $(cat "$WORK/bazel.log")"
  test_passed "remote execution, again"
  all_cache_hits "$WORK/exec.json"
  only_kinds "remote execution, after clean" remote_cache_hit
  outputs exec "$WORK/executed2"
  same_outputs "remote execution, after clean" "$WORK/executed2"
}

# Each in a subshell that stops its grid and Bazel server when it ends, so
# that one failing does not hide what the other finds. (Not `( ) ||`: set
# -e would be off inside.)
failed=
phase() {
  local rc
  set +e
  (
    set -e
    trap 'stop_bazel; stop_last_grid' EXIT
    "$1"
  )
  rc=$?
  set -e
  [ "$rc" = 0 ] || failed="$failed $1"
}
phase remote_cache
phase remote_execution
[ -z "$failed" ] || fail "reapi_bazel:$failed failed (see above)"
echo "reapi_bazel: local, remote cache and remote execution passed in $(($(date +%s) - started)) s"
