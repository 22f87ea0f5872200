#!/usr/bin/env bash
# REAPI front-end benchmark: kiln-reapi (docs/reapi.md) against a grid of
# `kiln up --workers 1 --no-auth --port 0 --reapi-port 0` started from empty
# stores, from a Python gRPC client (scripts/bench/reapi_bench.py, Debian's
# python3-grpcio and the REAPI stubs of python3-buildstream), and prints a
# markdown table of medians and ratios against baselines of the same round.
#
#   cmake --build build --target kiln kiln-grid kiln-scheduler kiln-worker kiln-reapi
#   scripts/bench/reapi.sh build               # REPEAT=3 scripts/bench/reapi.sh build
#
# One round (REPEAT rounds, default 5):
#   ByteStream  a new 256 MiB random file each time (a blob the store has
#               not seen), written with ByteStream Write
#               (uploads/UUID/blobs/HASH/SIZE) in 16 KiB requests (Bazel's
#               chunk size: Chunker's default in Debian's Bazel 4.2) and,
#               another new file, in 1 MiB requests; each written a second
#               time (the "already present" early answer) and read back
#               (its SHA-256 checked); MiB/s against `cp` of the file to a
#               new file on the same filesystem, `cp` + `sync FILE` (the
#               store is durable: it fsyncs) and `cat FILE > /dev/null` (warm
#               page cache)
#   zstd        256 MiB of C headers (/usr/include, repeated, a new first
#               line each round): compressed-blobs/zstd Write of its
#               `zstd -1` file (the server decompresses and hashes) against
#               `zstd -d` to a file, and its compressed read (the server
#               compresses at level 1) against `zstd -1` to a file
#   Execute     N (default 30) REAPI Executes of /bin/true, each with a new
#               salt in its environment (a new action, so the worker runs
#               it), on one channel: request to COMPLETED, and with the
#               FindMissingBlobs + BatchUpdateBlobs of its Action and
#               Command; against kiln's own protocol, N `kiln run --env
#               KILN_BENCH_SALT=<new> -- /bin/true` (own KILN_DIR,
#               KILN_DIGEST_FUNCTION=sha256): the baseline is their grid
#               round trip as kiln's journal records it (from the end of
#               the local lookup to the result: connection, upload, queue,
#               run, result), beside the whole process and its start
#               (`kiln run --help` + `kiln-grid run --help`); REAPI and
#               kiln run alternate first from round to round
#   Bazel       Debian's Bazel 4.2 (bazel-bootstrap) builds the small C++
#               workspace of tests/e2e/bazel_ws (BAZEL_WS=DIR for another
#               copy) offline, after `bazel clean` each round: locally, and
#               with --remote_cache on kiln-reapi after one untimed build
#               that filled it (the grid then runs with
#               --reapi-allow-updates); each on its own Bazel server, started
#               before the rounds; the hit build's process summary is shown
#               (all should be "remote cache hit"). Skipped without bazel or
#               the workspace
# kiln-reapi's CPU time over each measurement is shown beside it.
#
#   REPEAT=N      rounds (default 5)
#   N=K           actions per round and kind (default 30)
#   ONLY=bytestream|execute|bazel   one part only
#
# The worker and kiln-reapi share this machine's cores with the client: the
# load average is printed, quote medians. Work files (about 1.5 GiB at a
# time; the store keeps every blob: 768 MiB a round) go to
# ${KILN_BENCH_DIR:-/var/tmp}. Every process started here (kiln up and its
# scheduler, worker and kiln-reapi; the Bazel servers) is stopped on exit,
# failures included.
set -euo pipefail

build_dir=${1:-build}
repeat=${REPEAT:-5}
n=${N:-30}
only=${ONLY:-}
case $only in
  "" | bytestream | execute | bazel) ;;
  *) echo "reapi.sh: ONLY=$only: bytestream, execute or bazel" >&2; exit 2 ;;
esac
part() { [ -z "$only" ] || [ "$only" = "$1" ]; } # part NAME: that part runs
here=$(cd "$(dirname "$0")/../.." && pwd)
kiln=$(realpath -m "$build_dir/bin/kiln")
py=/usr/bin/python3 # Debian's: grpcio and the REAPI stubs (a pyenv python3 has neither)
helper=$here/scripts/bench/reapi_bench.py
mib=256

for b in kiln kiln-grid kiln-scheduler kiln-worker kiln-reapi; do
  [ -x "$build_dir/bin/$b" ] || { echo "reapi.sh: $build_dir/bin/$b not found; build it first" >&2; exit 1; }
done
"$here/scripts/install-packages.sh" zstd python3-grpcio python3-buildstream python3-zstandard procps >&2
"$py" -c 'import grpc, zstandard
from buildstream._protos.build.bazel.remote.execution.v2 import remote_execution_pb2' ||
  { echo "reapi.sh: $py cannot import grpc, zstandard and the REAPI stubs" >&2; exit 1; }

work=$(mktemp -d "${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-reapi.XXXXXX")
up=
up_children=()
bazel_bases=()
cleanup() {
  local base pid
  # The Bazel servers (shutdown, then their pid); kiln up as Ctrl-C stops
  # it (its scheduler, worker and kiln-reapi with it), then whatever of
  # them is left (noted before: a kiln up that dies leaves them to init).
  for base in "${bazel_bases[@]}"; do
    (cd "$work/ws/main" && timeout 30 bazel "${bazel_startup[@]}" --output_base="$base" shutdown) \
      >/dev/null 2>&1 || true
    pid=$(cat "$base/server/server.pid.txt" 2>/dev/null || true)
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  chmod -R u+w "$work" 2>/dev/null || true # Bazel leaves read-only trees
  if [ -n "$up" ]; then
    up_children+=($(pgrep -P "$up" || true))
    kill -INT "$up" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$up" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$up" 2>/dev/null || true
    wait "$up" 2>/dev/null || true
  fi
  for pid in "${up_children[@]}"; do
    case $(cat "/proc/$pid/comm" 2>/dev/null) in kiln*) kill -9 "$pid" 2>/dev/null || true ;; esac
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# Bazel: the workspace and its startup options (no rc file: Debian's
# /etc/bazel/bazelrc adds --sandbox_debug; the install base is the server
# Debian ships, unpacked).
bazel_ws=${BAZEL_WS:-$here/tests/e2e/bazel_ws}
bazel_startup=(--nosystem_rc --nohome_rc --noworkspace_rc --install_base=/usr/share/bazel --trust_install_base
  --output_user_root="$work/bazel-root" --max_idle_secs=600)
bazel_flags=(--symlink_prefix=/ --color=no --curses=no --noshow_progress --show_result=0)
run_bazel=0
up_flags=()
if part bazel; then
  if ! command -v bazel >/dev/null; then
    echo "reapi.sh: no bazel (Debian's bazel-bootstrap): no Bazel rows" >&2
  elif [ ! -f "$bazel_ws/main/WORKSPACE" ]; then
    echo "reapi.sh: no Bazel workspace at $bazel_ws (BAZEL_WS): no Bazel rows" >&2
  else
    run_bazel=1
    up_flags=(--reapi-allow-updates)
  fi
fi

# The grid, its stores under $work/grid.
mkdir -p "$work/grid" "$work/client" "$work/run"
KILN_DIR="$work/grid" "$kiln" up --workers 1 --no-auth --port 0 --reapi-port 0 "${up_flags[@]}" \
  >"$work/up.out" 2>"$work/up.err" &
up=$!
for _ in $(seq 1 600); do
  grep -q '^KILN_REAPI=' "$work/up.out" 2>/dev/null && break
  kill -0 "$up" 2>/dev/null || break
  sleep 0.05
done
sched=$(sed -n 's/^KILN_SCHEDULER=//p' "$work/up.out" | head -1)
reapi=$(sed -n 's/^KILN_REAPI=//p' "$work/up.out" | head -1)
[ -n "$sched" ] && [ -n "$reapi" ] ||
  { echo "reapi.sh: kiln up printed no addresses: $(cat "$work/up.out" "$work/up.err")" >&2; exit 1; }
up_children+=($(pgrep -P "$up" || true))
reapi_pid=
for pid in "${up_children[@]}"; do
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = kiln-reapi ] && reapi_pid=$pid
done
[ -n "$reapi_pid" ] || { echo "reapi.sh: no kiln-reapi under kiln up (pid $up)" >&2; exit 1; }
export KILN_DIR="$work/client" KILN_SCHEDULER="$sched" KILN_SCHEDULER_KEY=none \
  KILN_DIGEST_FUNCTION=sha256
workers=0
for _ in $(seq 1 400); do
  workers=$("$kiln" status --json 2>/dev/null |
    "$py" -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))' 2>/dev/null || echo 0)
  [ "$workers" -eq 1 ] && break
  sleep 0.05
done
[ "$workers" -eq 1 ] || { echo "reapi.sh: the worker did not join: $(cat "$work/up.err")" >&2; exit 1; }

# kiln-reapi's memory map at the start (a finished operation's thread must
# not keep its stack: see the line under the table).
maps_before=$(wc -l <"/proc/$reapi_pid/maps")
vmsize_before=$(awk '/^VmSize/ { print $2 }' "/proc/$reapi_pid/status")
echo "reapi.sh: grid up: $sched, $reapi (kiln-reapi pid $reapi_pid); $repeat rounds" >&2

# The compressible file's body: the C headers, repeated to 256 MiB (its
# repeats lie far beyond zstd -1's window, so it compresses like text).
if part bytestream; then
  find /usr/include -name '*.h' -type f -print0 | sort -z | xargs -0 cat >"$work/headers"
  [ -s "$work/headers" ] || echo "int x;" >"$work/headers"
  while [ "$(stat -c %s "$work/headers")" -lt $((mib << 20)) ]; do
    cat "$work/headers" "$work/headers" >"$work/headers.2"
    mv "$work/headers.2" "$work/headers"
  done
fi

rows=$work/rows.tsv
: >"$rows"
measure() { "$py" "$helper" "$@" >>"$rows"; }

# bz BASE ARGS...: one Bazel command in the workspace copy on output base
# $work/bazel-BASE; its output in $work/bazel.log.
bz() {
  local base="$work/bazel-$1"
  shift
  case " ${bazel_bases[*]} " in *" $base "*) ;; *) bazel_bases+=("$base") ;; esac
  (cd "$work/ws/main" && timeout 600 bazel "${bazel_startup[@]}" --output_base="$base" "$@") \
    >"$work/bazel.log" 2>&1 || { tail -30 "$work/bazel.log" >&2; echo "reapi.sh: bazel $* failed" >&2; exit 1; }
}
# timed_build BASE KEY ARGS...: bazel clean, then a timed bazel build //...
timed_build() {
  local base=$1 key=$2 t0 t1
  shift 2
  bz "$base" clean
  sync
  t0=$(date +%s.%N)
  bz "$base" build "${bazel_flags[@]}" "$@" //...
  t1=$(date +%s.%N)
  printf '%s\t%s\n' "$key" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')" >>"$rows"
}
remote_cache=(--remote_cache="$reapi" --remote_timeout=60)
if [ "$run_bazel" = 1 ]; then
  echo "reapi.sh: Bazel: starting two servers, filling the remote cache (untimed)" >&2
  cp -r "$bazel_ws" "$work/ws"
  bz local build "${bazel_flags[@]}" //...
  bz cache build "${bazel_flags[@]}" "${remote_cache[@]}" //...
  grep -q 'Remote Cache' "$work/bazel.log" &&
    { cat "$work/bazel.log" >&2; echo "reapi.sh: Bazel could not fill the remote cache" >&2; exit 1; }
fi
for r in $(seq 1 "$repeat"); do
  echo "reapi.sh: round $r/$repeat (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  if part bytestream; then
    for tag in 16k 1m; do
      head -c "$((mib << 20))" /dev/urandom >"$work/blob"
      measure bytestream "$reapi" "$work/blob" "$([ $tag = 16k ] && echo 16384 || echo 1048576)" "$tag" "$reapi_pid"
    done
    rm -f "$work/blob"
    first="kiln reapi.sh round $r $RANDOM$RANDOM $(date +%s.%N)"
    echo "$first" >"$work/text"
    head -c "$(((mib << 20) - ${#first} - 1))" "$work/headers" >>"$work/text"
    measure zstd "$reapi" "$work/text" 1048576 "$reapi_pid"
    rm -f "$work/text"
  fi
  if [ "$run_bazel" = 1 ]; then
    timed_build local bazel_local
    timed_build cache bazel_cache "${remote_cache[@]}"
    # The hit build's summary: "N processes: ...", every kind but internal
    # should be a remote cache hit.
    sed -n 's/^INFO: [0-9]* process[es]*: //p' "$work/bazel.log" | tail -1 | tr -d '.' >"$work/bazel.summary"
  fi
  if part execute; then
    if [ $((r % 2)) -eq 1 ]; then
      measure execute "$reapi" "$n" "$r" "$reapi_pid"
      KILN_BENCH_CWD="$work/run" measure kiln-run "$kiln" "$n" "$r"
    else
      KILN_BENCH_CWD="$work/run" measure kiln-run "$kiln" "$n" "$r"
      measure execute "$reapi" "$n" "$r" "$reapi_pid"
    fi
  fi
done

threads=$(ls "/proc/$reapi_pid/task" | wc -l)
maps=$(wc -l <"/proc/$reapi_pid/maps")
vmsize=$(awk '/^VmSize/ { print $2 }' "/proc/$reapi_pid/status")
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$reapi_pid/status")
executes=0
part execute && executes=$((repeat * (n + 1)))

echo
echo "kiln-reapi against \`kiln up --workers 1 --no-auth\` ($(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')); medians of $repeat round(s); $(nproc) cores; load average before: $load_before, now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
KILN_BENCH_MIB=$mib KILN_BENCH_N=$n KILN_BENCH_BAZEL_SUMMARY="$(cat "$work/bazel.summary" 2>/dev/null || true)" \
  "$py" "$helper" table "$rows"
echo
if [ "$executes" -gt 0 ]; then
  echo "kiln-reapi after the run: $threads threads, RSS $((rss / 1024)) MiB; over the run (with $executes Executes)" \
    "its memory mappings went from $maps_before to $maps (vm.max_map_count: $(cat /proc/sys/vm/max_map_count))" \
    "and its address space grew by $(((vmsize - vmsize_before) / 1024)) MiB"
fi
