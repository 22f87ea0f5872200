#!/usr/bin/env bash
# Compiler launcher benchmark: builds Debian's leveldb 1.23 (Release, with
# its tests, no benchmarks: ~100 compiles, CMake + Ninja -j2) with the
# plain compiler and through each launcher, and prints a markdown table of
# medians and ratios with the goals next to them.
#
#   cmake --build build --target kiln kiln-scheduler kiln-worker
#   scripts/bench/launcher.sh build            # REPEAT=3 scripts/bench/launcher.sh build
#
# One run does, REPEAT (default 1) times, each from a fresh build dir:
#   plain        the compiler alone
#   kiln cold    kiln from an empty KILN_DIR; kiln warm: again, same cache;
#                kiln is the compiler and the linker launcher; "kiln warm,
#                compiles only" is warm with the compiler launcher alone
#   ccache       cold (empty CCACHE_DIR), warm
#   sccache      cold, warm (Debian's sccache, local disk cache, own server port)
#   distcc       two distccd on 127.0.0.1 (random ports), DISTCC_HOSTS to both
#   kiln remote  kiln from an empty local cache against `kiln up --workers 2`
#                started from empty stores: every compile is a grid miss
# and the single-TU direct-hit time of db/db_impl.cc: the exact command from
# compile_commands.json, run TU_RUNS (default 20) times through kiln and
# through ccache after warming, interleaved round by round (medians).
#
#   ONLY=tu                  only the plain build and the single-TU times
#   BASELINE_KILN=path/kiln  also time another kiln build's direct hit in the
#                            same rounds (its own cache), for before/after
#
# Only the `ninja` step is timed (CMake's configure is not). Without a
# working launcher in BUILD_DIR/bin/kiln (`kiln -s` fails) the kiln rows
# print n/a and everything else still runs. Installs ccache, sccache,
# distcc and leveldb's build dependencies with apt-get when missing; the
# source is fetched once into ${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb
# (scripts/fetch-leveldb.sh). Work files go to ${KILN_BENCH_DIR:-/var/tmp}.
# The workers of `kiln up` and the distcc daemons share this machine's
# cores with the client: "remote" here measures the overhead of the path,
# not a speed-up. Other load skews everything: the load average is printed.
set -euo pipefail

build_dir=${1:-build}
repeat=${REPEAT:-1}
here=$(cd "$(dirname "$0")/../.." && pwd)
kiln=$(realpath -m "$build_dir/bin/kiln")
jobs=2

"$here/scripts/install-packages.sh" g++ cmake ninja-build python3 libgtest-dev libgmock-dev libbenchmark-dev \
  ccache sccache distcc

src=${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb
"$here/scripts/fetch-leveldb.sh" "$src"

work=$(mktemp -d "${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-launcher.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  SCCACHE_SERVER_PORT=${sccache_port:-0} sccache --stop-server >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }

kiln_ok=0
if [ -x "$kiln" ] && KILN_DIR="$work/probe" "$kiln" -s >/dev/null 2>&1; then kiln_ok=1; fi
[ "$kiln_ok" -eq 1 ] || echo "launcher.sh: $kiln has no working launcher (kiln -s): kiln rows are n/a" >&2

cmake_flags=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
  -DLEVELDB_BUILD_TESTS=ON -DLEVELDB_BUILD_BENCHMARKS=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)

declare -A times
# build LABEL LAUNCHER [ENV=VALUE...]: a fresh build dir, configured with
# LAUNCHER (or none: "") and ENV, then `ninja -jN` timed. Always the same
# path, $work/build: leveldb puts its build dir on the include path, so a
# build dir elsewhere changes every command line (ccache and kiln need a
# base dir for that; here each launcher gets the same chance to hit).
build() {
  local label=$1 launcher=$2 dir="$work/build" log="$work/build-${1// /-}" t0 t1
  shift 2
  local lflags=()
  [ -n "$launcher" ] && lflags=(-DCMAKE_C_COMPILER_LAUNCHER="$launcher" -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
  # kiln caches links too (CMake's linker launcher); "compiles only" rows
  # show what that is worth. ccache, sccache and distcc cannot.
  if [ "$launcher" = "$kiln" ] && [[ "$label" != *"compiles only"* ]]; then
    lflags+=(-DCMAKE_C_LINKER_LAUNCHER="$launcher" -DCMAKE_CXX_LINKER_LAUNCHER="$launcher")
  fi
  rm -rf "$dir"
  env "$@" cmake -S "$src" -B "$dir" "${cmake_flags[@]}" "${lflags[@]}" >"$log.configure.log" 2>&1 ||
    { tail -20 "$log.configure.log" >&2; echo "launcher.sh: configure ($label) failed" >&2; exit 1; }
  t0=$(now)
  env "$@" ninja -C "$dir" -j "$jobs" >"$log.log" 2>&1 ||
    { tail -20 "$log.log" >&2; echo "launcher.sh: build ($label) failed" >&2; exit 1; }
  t1=$(now)
  local s
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  times[$label]="${times[$label]:-} $s"
  printf '  %-14s %7.2f s\n' "$label" "$s" >&2
}

# kiln_hits DIR: "hits/compiles" from kiln -s --json.
kiln_hits() {
  KILN_DIR=$1 "$kiln" -s --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("%d/%d hits (%d remote), %d uncacheable" % (s["hits"]["total"], s["hits"]["total"] + s["misses"]["total"],
      s["hits"]["remote"], s["uncacheable_total"]))'
}

start_distccd() {
  local port
  port=$(free_port)
  mkdir -p "$work/distcc"
  # --log-stderr: distccd drops root for its own user, which could not
  # open a log file under $work.
  distccd --no-detach --daemon --allow 127.0.0.1 --listen 127.0.0.1 --port "$port" --jobs 1 \
    --log-stderr --log-level info 2>"$work/distcc/distccd-$port.log" &
  pids+=($!)
  distcc_hosts="${distcc_hosts:-} 127.0.0.1:$port/1"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; -j$jobs; $repeat run(s)" >&2
distcc_hosts=""
start_distccd
start_distccd
sccache_port=$(free_port)

for r in $(seq 1 "$repeat"); do
  echo "run $r/$repeat" >&2
  build plain ""
  [ "${ONLY:-}" = tu ] && continue

  if [ "$kiln_ok" -eq 1 ]; then
    rm -rf "$work/kiln"
    build "kiln cold" "$kiln" KILN_DIR="$work/kiln"
    KILN_DIR="$work/kiln" "$kiln" -z >/dev/null
    build "kiln warm" "$kiln" KILN_DIR="$work/kiln"
    echo "    kiln warm: $(kiln_hits "$work/kiln")" >&2
    build "kiln warm, compiles only" "$kiln" KILN_DIR="$work/kiln"
  fi

  rm -rf "$work/ccache"
  build "ccache cold" ccache CCACHE_DIR="$work/ccache"
  build "ccache warm" ccache CCACHE_DIR="$work/ccache"

  rm -rf "$work/sccache"
  SCCACHE_SERVER_PORT=$sccache_port sccache --stop-server >/dev/null 2>&1 || true
  SCCACHE_DIR="$work/sccache" SCCACHE_SERVER_PORT=$sccache_port SCCACHE_IDLE_TIMEOUT=0 \
    sccache --start-server >"$work/sccache.log" 2>&1 ||
    { cat "$work/sccache.log" >&2; echo "launcher.sh: sccache --start-server failed" >&2; exit 1; }
  build "sccache cold" sccache SCCACHE_SERVER_PORT="$sccache_port"
  build "sccache warm" sccache SCCACHE_SERVER_PORT="$sccache_port"
  SCCACHE_SERVER_PORT=$sccache_port sccache --stop-server >/dev/null 2>&1 || true

  build distcc distcc DISTCC_HOSTS="$distcc_hosts" DISTCC_DIR="$work/distcc" DISTCC_FALLBACK=0

  if [ "$kiln_ok" -eq 1 ]; then
    rm -rf "$work/up" "$work/kiln-remote"
    mkdir -p "$work/up"
    KILN_DIR="$work/up" "$kiln" up --workers 2 --port 0 >"$work/up/out" 2>"$work/up/err" &
    up=$!
    pids+=("$up")
    for _ in $(seq 1 300); do grep -q '^KILN_SCHEDULER=' "$work/up/out" && break; sleep 0.05; done
    sched=$(sed -n 's/^KILN_SCHEDULER=//p' "$work/up/out")
    [ -n "$sched" ] || { cat "$work/up/err" >&2; echo "launcher.sh: kiln up printed no address" >&2; exit 1; }
    for _ in $(seq 1 200); do
      KILN_SCHEDULER=$sched "$kiln" status --json 2>/dev/null |
        python3 -c 'import json,sys; sys.exit(len(json.load(sys.stdin)["workers"]) != 2)' 2>/dev/null && break
      sleep 0.05
    done
    build "kiln remote" "$kiln" KILN_DIR="$work/kiln-remote" KILN_SCHEDULER="$sched"
    echo "    kiln remote: $(kiln_hits "$work/kiln-remote")" >&2
    kill -INT "$up"
    wait "$up" 2>/dev/null || true
  fi
done

# Whether the distcc daemons did the compiles (and not the local fallback).
distcc_remote=$(cat "$work"/distcc/distccd-*.log 2>/dev/null | grep -c 'COMPILE_OK' || true)

# The direct hit of one TU: db/db_impl.cc's command from compile_commands.json
# (the same in every build above), in $work/build, through each launcher
# after warming it there.
tu_cmd=$(python3 - "$work/build/compile_commands.json" <<'EOF'
import json, shlex, sys
for e in json.load(open(sys.argv[1])):
    if e["file"].endswith("/db/db_impl.cc"):
        print(e["command"]); break
EOF
)
# Each launcher warms its own cache with 3 runs, then TU_RUNS (default 20)
# rounds run every launcher once each, interleaved (every other round in
# reverse order), so a change in the machine's load falls on all of them
# alike; medians in ms.
tu_times=$(cd "$work/build" && python3 - "$tu_cmd" "$work" "$kiln" "$kiln_ok" "${BASELINE_KILN:-}" \
  "${TU_RUNS:-20}" <<'EOF'
import os, shlex, statistics, subprocess, sys, time
cmd, work, kiln, kiln_ok, baseline, rounds = sys.argv[1:7]
cmd = shlex.split(cmd)
launchers = [("plain", [], {}), ("ccache", ["ccache"], {"CCACHE_DIR": work + "/ccache"})]
if kiln_ok == "1":
    launchers.append(("kiln", [kiln], {"KILN_DIR": work + "/kiln"}))
if baseline:
    launchers.append(("baseline", [baseline], {"KILN_DIR": work + "/kiln-baseline"}))
runs = {label: [] for label, _, _ in launchers}
def run(prefix, env):
    subprocess.run(prefix + cmd, check=True, env=dict(os.environ, **env))
for _, prefix, env in launchers:
    for _ in range(3):
        run(prefix, env)
for r in range(int(rounds)):
    # Every other round in reverse order: no launcher always runs first.
    for label, prefix, env in (launchers if r % 2 == 0 else launchers[::-1]):
        t = time.perf_counter()
        run(prefix, env)
        runs[label].append((time.perf_counter() - t) * 1000)
print(" ".join("%s=%.2f" % (label, statistics.median(v)) for label, v in runs.items()))
EOF
)
tu_of() { local v; v=$(tr ' ' '\n' <<<"$tu_times" | sed -n "s/^$1=//p"); echo "${v:-n/a}"; }
tu_plain=$(tu_of plain)
tu_ccache=$(tu_of ccache)
tu_kiln=$(tu_of kiln)
tu_baseline=$(tu_of baseline)

echo
echo "leveldb 1.23 (Debian), Release + tests, $(grep -c '"command"' "$work/build/compile_commands.json") compiles, ninja -j$jobs; medians of $repeat run(s); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "distcc: $distcc_remote compiles done by the two loopback distccd"
echo
{
  for k in "${!times[@]}"; do printf '%s\t%s\n' "$k" "${times[$k]}"; done
  printf 'tu\t%s %s %s %s\n' "$tu_plain" "$tu_ccache" "$tu_kiln" "$tu_baseline"
} | awk -v tu_runs="${TU_RUNS:-20}" -F '\t' '
  function median(s,   n, a, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  $1 == "tu" { split($2, tu, " "); next }
  { m[$1] = median($2) }
  function row(label, goal, extra,   r) {
    if (!(label in m)) { printf "| %s | n/a | | %s |\n", label, goal; return }
    r = m[label] / m["plain"]
    printf "| %s | %.2f s | %.2fx | %s%s |\n", label, m[label], r, goal, extra
  }
  function verdict(r, limit) { return (r <= limit ? " (met)" : " (NOT met)") }
  END {
    print "| build | wall time | vs plain | goal |"
    print "|---|---:|---:|---|"
    row("plain", "", "")
    row("kiln cold", "<= 1.03x plain", ("kiln cold" in m) ? verdict(m["kiln cold"] / m["plain"], 1.03) : "")
    if (("kiln warm" in m) && ("ccache warm" in m)) {
      r = m["kiln warm"] / m["ccache warm"]
      row("kiln warm", sprintf("<= 0.80x ccache warm: %.2fx", r), verdict(r, 0.80))
    } else row("kiln warm", "<= 0.80x ccache warm", "")
    if (("kiln warm, compiles only" in m) && ("ccache warm" in m)) {
      r = m["kiln warm, compiles only"] / m["ccache warm"]
      row("kiln warm, compiles only", sprintf("(links not cached) %.2fx ccache warm", r), "")
    }
    row("ccache cold", "", ""); row("ccache warm", "", "")
    row("sccache cold", "", ""); row("sccache warm", "", "")
    row("distcc", "", "")
    row("kiln remote", "<= 1.10x plain", ("kiln remote" in m) ? verdict(m["kiln remote"] / m["plain"], 1.10) : "")
    print ""
    printf "| db/db_impl.cc, one compile | median of %d | vs ccache direct hit | goal |\n", tu_runs
    print "|---|---:|---:|---|"
    printf "| plain compile | %.1f ms | | |\n", tu[1]
    printf "| ccache direct hit | %.1f ms | 1.00x | |\n", tu[2]
    if (tu[3] == "n/a") print "| kiln direct hit | n/a | | <= 0.50x ccache |"
    else printf "| kiln direct hit | %.1f ms | %.2fx | <= 0.50x ccache%s |\n", tu[3], tu[3] / tu[2], verdict(tu[3] / tu[2], 0.5)
    if (tu[4] != "n/a" && tu[3] != "n/a")
      printf "| baseline kiln direct hit (BASELINE_KILN) | %.1f ms | %.2fx | this kiln: %.2fx the baseline |\n", tu[4], tu[4] / tu[2], tu[3] / tu[4]
  }'
