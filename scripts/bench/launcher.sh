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
#                started from empty stores: every compile is a grid miss;
#                twice, KILN_REMOTE_MODE=headers (the toolchain and every
#                header shipped, the compile run at its own paths in the
#                worker's sandbox) and =preprocessed (preprocessed here)
#   Debug        leveldb with -DCMAKE_BUILD_TYPE=Debug (-g -O0): plain, kiln
#                remote in headers mode (a fresh grid and local cache as
#                above; preprocessed mode compiles -g here), distcc (which
#                ships preprocessed text even with -g)
# For every kiln remote build: its misses by where they compiled (remote
# headers / remote preprocessed / here / fallback, from `kiln -s --json`),
# the lines of KILN_LOGFILE that are not a remote miss or a link, and the
# grid's store afterwards (`kiln status --json`: cache bytes and blobs)
# per remote compile, with and without the objects it holds.
# Then the direct hit of db/db_impl.cc: the exact Release command from
# compile_commands.json, run TU_RUNS (default 20) times through kiln and
# through ccache after warming, interleaved round by round (medians).
# Then single remote compiles on a fresh `kiln up --workers 1` (SINGLE_RUNS,
# default 5, interleaved rounds; each compile of a copy of the source under
# a new name, so each is a grid miss): the first compile of util/hash.cc on
# the fresh grid (the toolchain hashed here, uploaded, fetched by the worker)
# against later ones (local cache kept; local cache fresh each time),
# preprocessed mode and the plain compiler; the grid store's growth per
# compile; db/db_impl.cc's preprocessed size (-E, gzip -1), its header tree
# (the files of -M) and the toolchain's size (the F lines of
# <KILN_DIR>/toolchains/*.hermetic), and its first / later remote compile in
# both modes.
#
#   ONLY=tu                  only the plain build and the single-TU times
#   ONLY=remote              only plain, the kiln remote builds (Release and
#                            Debug), distcc and the single remote compiles
#   DEBUG_REMOTE=0           leave out the Debug builds
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
# Every process started here (kiln up and what it starts, distccd, the
# sccache server) is stopped on exit, failures included.
set -euo pipefail

build_dir=${1:-build}
repeat=${REPEAT:-1}
only=${ONLY:-}
debug_remote=${DEBUG_REMOTE:-1}
here=$(cd "$(dirname "$0")/../.." && pwd)
kiln=$(realpath -m "$build_dir/bin/kiln")
jobs=2

"$here/scripts/install-packages.sh" g++ cmake ninja-build python3 procps libgtest-dev libgmock-dev \
  libbenchmark-dev bubblewrap ccache sccache distcc

src=${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb
"$here/scripts/fetch-leveldb.sh" "$src"

work=$(mktemp -d "${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-launcher.XXXXXX")
pids=()        # distccd
ups=()         # the running kiln up (one at a time)
up_children=() # its scheduler and workers
cleanup() {
  local pid
  # kiln up as Ctrl-C stops it (its scheduler and workers with it), then
  # whatever is left.
  for pid in "${ups[@]}"; do up_children+=($(pgrep -P "$pid" || true)); done
  for pid in "${ups[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${ups[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  kill_kiln "${up_children[@]}"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  SCCACHE_SERVER_PORT=${sccache_port:-0} sccache --stop-server >/dev/null 2>&1 || true
  rm -rf "$work"
}
# kill_kiln PID...: kill -9 those of the PIDs still running a kiln program
# (a kiln up's scheduler and workers left behind: they are noted before kiln
# up is stopped, since a kiln up that dies leaves them to init).
kill_kiln() {
  local pid
  for pid in "$@"; do
    case $(cat "/proc/$pid/comm" 2>/dev/null) in kiln*) kill -9 "$pid" 2>/dev/null || true ;; esac
  done
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

# The build type is $btype (Release unless a Debug row sets it).
cmake_flags=(-G Ninja -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
  -DLEVELDB_BUILD_TESTS=ON -DLEVELDB_BUILD_BENCHMARKS=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
btype=Release

declare -A times
# build LABEL LAUNCHER [ENV=VALUE...]: a fresh build dir, configured with
# LAUNCHER (or none: "") and ENV, then `ninja -jN` timed. Always the same
# path, $work/build: leveldb puts its build dir on the include path, so a
# build dir elsewhere changes every command line (ccache and kiln need a
# base dir for that; here each launcher gets the same chance to hit).
build() {
  local label=$1 launcher=$2 dir="$work/build" log="$work/build-${1//[ ,]/-}" t0 t1
  shift 2
  local lflags=()
  [ -n "$launcher" ] && lflags=(-DCMAKE_C_COMPILER_LAUNCHER="$launcher" -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
  # kiln caches links too (CMake's linker launcher); "compiles only" rows
  # show what that is worth. ccache, sccache and distcc cannot.
  if [ "$launcher" = "$kiln" ] && [[ "$label" != *"compiles only"* ]]; then
    lflags+=(-DCMAKE_C_LINKER_LAUNCHER="$launcher" -DCMAKE_CXX_LINKER_LAUNCHER="$launcher")
  fi
  rm -rf "$dir"
  env "$@" cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE="$btype" "${cmake_flags[@]}" "${lflags[@]}" \
    >"$log.configure.log" 2>&1 ||
    { tail -20 "$log.configure.log" >&2; echo "launcher.sh: configure ($label) failed" >&2; exit 1; }
  t0=$(now)
  env "$@" ninja -C "$dir" -j "$jobs" >"$log.log" 2>&1 ||
    { tail -20 "$log.log" >&2; echo "launcher.sh: build ($label) failed" >&2; exit 1; }
  t1=$(now)
  local s
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  times[$label]="${times[$label]:-} $s"
  printf '  %-28s %7.2f s  (load %s)\n' "$label" "$s" "$(cut -d' ' -f1 /proc/loadavg)" >&2
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
# Compiles the two distcc daemons have done so far.
distcc_done() { cat "$work"/distcc/distccd-*.log 2>/dev/null | grep -c 'COMPILE_OK' || true; }
declare -A distcc_remote
distcc_build() {
  local label=$1 before
  before=$(distcc_done)
  build "$label" distcc DISTCC_HOSTS="$distcc_hosts" DISTCC_DIR="$work/distcc" DISTCC_FALLBACK=0
  distcc_remote[$label]=$(($(distcc_done) - before))
}

# start_grid NAME WORKERS: `kiln up --workers WORKERS` from empty stores
# under $work/NAME, on a free port; returns once every worker has joined,
# with sched (its address) and up (kiln up's pid) set.
start_grid() {
  local name=$1 workers=$2 dir="$work/$1" n=0
  rm -rf "$dir"
  mkdir -p "$dir"
  KILN_DIR="$dir" "$kiln" up --workers "$workers" --port 0 >"$dir.out" 2>"$dir.err" &
  up=$!
  ups+=("$up")
  for _ in $(seq 1 1200); do
    grep -q '^KILN_SCHEDULER=' "$dir.out" 2>/dev/null && break
    kill -0 "$up" 2>/dev/null || break
    sleep 0.05
  done
  sched=$(sed -n 's/^KILN_SCHEDULER=//p' "$dir.out" | head -1)
  if [ -z "$sched" ]; then
    local state="still running after 60 s" rc
    if ! kill -0 "$up" 2>/dev/null; then
      rc=0
      wait "$up" || rc=$?
      state="exited with status $rc"
    fi
    echo "launcher.sh: kiln up ($name) printed no address; it $state; its stdout: $(cat "$dir.out")" \
      "its stderr: $(cat "$dir.err")" >&2
    exit 1
  fi
  for _ in $(seq 1 400); do
    n=$(KILN_SCHEDULER=$sched "$kiln" status --json 2>/dev/null |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))' 2>/dev/null || echo 0)
    [ "$n" -eq "$workers" ] && break
    sleep 0.05
  done
  [ "$n" -eq "$workers" ] ||
    { cat "$dir.err" >&2; echo "launcher.sh: the grid has $n workers, expected $workers" >&2; exit 1; }
}
# stop_grid: stops the running grid as Ctrl-C would, then whatever is left
# of it.
stop_grid() {
  up_children+=($(pgrep -P "$up" || true))
  kill -INT "$up" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$up" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$up" 2>/dev/null || true
  wait "$up" 2>/dev/null || true
  kill_kiln "${up_children[@]}"
  ups=()
  up_children=()
}

# remote_build LABEL MODE: kiln from an empty local cache against a fresh
# `kiln up --workers 2` in KILN_REMOTE_MODE=MODE; then appends to
# $work/remote.tsv: label, misses remote headers / preprocessed / here /
# fallback, hits, uncacheable + failed + errors, the grid's store bytes and
# blobs, the bytes of the build's objects, the toolchain's files and bytes
# (headers mode), the KILN_LOGFILE lines that are not a remote miss, a hit
# or a link; and prints those lines.
remote_build() {
  local label=$1 mode=$2 kdir="$work/kiln-remote" log="$work/kiln-remote.log" counts store objects tc unexpected
  rm -rf "$kdir" "$log"
  start_grid up 2
  build "$label" "$kiln" KILN_DIR="$kdir" KILN_SCHEDULER="$sched" KILN_REMOTE_MODE="$mode" KILN_LOGFILE="$log"
  counts=$(KILN_DIR=$kdir "$kiln" -s --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
m = s["misses"]
print(m["remote_by_mode"]["headers"], m["remote_by_mode"]["preprocessed"], m["local"], m["remote_fallback"],
      s["hits"]["total"], s["uncacheable_total"] + s["compile_failed"] + s["errors"])')
  store=$(KILN_SCHEDULER=$sched "$kiln" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["cache_bytes"], s["cache_blobs"])')
  stop_grid
  # Each distinct object once (the grid stores it once; leveldb compiles
  # some sources once per target).
  objects=$(find "$work/build" -name '*.o' -exec sha256sum {} + |
    awk '!seen[$1]++ { print $2 }' | xargs -r stat -c %s | awk '{ s += $1 } END { print s + 0 }')
  tc=$(toolchain_size "$kdir")
  # Hits are expected too: leveldb compiles some sources once per target.
  unexpected=$(grep -Ev ': (miss_remote_headers|miss_remote|direct_hit|preprocessed_hit|remote_hit|link_miss|link_hit)$' \
    "$log" 2>/dev/null || true)
  read -r h p l f hits other <<<"$counts"
  echo "    $label: misses remote $h headers + $p preprocessed, $l here, $f fallback; $hits hits," \
    "$other uncacheable/failed/errors; grid store $store (bytes blobs); objects $objects bytes" >&2
  [ -z "$unexpected" ] || { echo "    KILN_LOGFILE, other lines:" >&2; head -20 <<<"$unexpected" | sed 's/^/      /' >&2; }
  printf '%s\t%s %s %s %s %s %s\t%s\t%s\t%s\t%s\n' "$label" "$h" "$p" "$l" "$f" "$hits" "$other" "$store" \
    "$objects" "$tc" "$(head -5 <<<"$unexpected" | tr '\t\n' '  ')" >>"$work/remote.tsv"
}

# toolchain_size KILN_DIR: "files bytes" of the toolchain headers mode ships
# (the F lines of toolchains/*.hermetic: "F <hex>/<size> <x> <path>"; each
# blob once: there is a list per compiler path, g++ and c++ share files).
toolchain_size() {
  { cat "$1"/toolchains/*.hermetic 2>/dev/null || true; } |
    awk '$1 == "F" && !seen[$2]++ { split($2, d, "/"); n++; s += d[2] } END { print n + 0, s + 0 }'
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; -j$jobs; $repeat run(s)" >&2
distcc_hosts=""
start_distccd
start_distccd
sccache_port=$(free_port)
: >"$work/remote.tsv"

for r in $(seq 1 "$repeat"); do
  echo "run $r/$repeat" >&2
  # Debug first: the Release build left in $work/build is the one the
  # single-TU times and the single remote compiles use.
  if [ "$debug_remote" = 1 ] && [ "$only" != tu ]; then
    btype=Debug
    build "Debug plain" ""
    [ "$kiln_ok" -eq 1 ] && remote_build "Debug kiln remote, headers" headers
    distcc_build "Debug distcc"
    btype=Release
  fi

  build plain ""
  [ "$only" = tu ] && continue

  if [ "$kiln_ok" -eq 1 ] && [ "$only" != remote ]; then
    rm -rf "$work/kiln"
    build "kiln cold" "$kiln" KILN_DIR="$work/kiln"
    KILN_DIR="$work/kiln" "$kiln" -z >/dev/null
    build "kiln warm" "$kiln" KILN_DIR="$work/kiln"
    echo "    kiln warm: $(kiln_hits "$work/kiln")" >&2
    build "kiln warm, compiles only" "$kiln" KILN_DIR="$work/kiln"
  fi

  if [ "$only" != remote ]; then
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
  fi

  distcc_build distcc

  if [ "$kiln_ok" -eq 1 ]; then
    # Alternating which mode goes first.
    if [ $((r % 2)) -eq 1 ]; then
      remote_build "kiln remote, headers" headers
      remote_build "kiln remote, preprocessed" preprocessed
    else
      remote_build "kiln remote, preprocessed" preprocessed
      remote_build "kiln remote, headers" headers
    fi
  fi
done

# The direct hit of one TU: db/db_impl.cc's command from compile_commands.json
# (the same in every build above), in $work/build, through each launcher
# after warming it there.
tu_cmd=$(python3 - "$work/build/compile_commands.json" <<'EOF'
import json, os, shlex, sys
for e in json.load(open(sys.argv[1])):
    if e["file"].endswith("/db/db_impl.cc"):
        args = shlex.split(e["command"])
        while os.path.basename(args[0]) in ("kiln", "ccache", "sccache", "distcc"):
            args = args[1:]
        print(shlex.join(args)); break
EOF
)
# Each launcher warms its own cache with 3 runs, then TU_RUNS (default 20)
# rounds run every launcher once each, interleaved (every other round in
# reverse order), so a change in the machine's load falls on all of them
# alike; medians in ms.
tu_times=""
if [ "$only" != remote ]; then
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
fi
tu_of() { local v; v=$(tr ' ' '\n' <<<"$tu_times" | sed -n "s/^$1=//p"); echo "${v:-n/a}"; }
tu_plain=$(tu_of plain)
tu_ccache=$(tu_of ccache)
tu_kiln=$(tu_of kiln)
tu_baseline=$(tu_of baseline)

# Single remote compiles on a fresh one-worker grid; prints markdown tables.
single_md=""
if [ "$kiln_ok" -eq 1 ] && [ "$only" != tu ]; then
  echo "single remote compiles (kiln up --workers 1)" >&2
  start_grid single-up 1
  single_md=$(python3 - "$work" "$kiln" "$sched" "${SINGLE_RUNS:-5}" <<'EOF'
import gzip, json, os, shlex, shutil, statistics, subprocess, sys, time
work, kiln, sched, runs = sys.argv[1:5]
runs = int(runs)
build = work + "/build"
entries = json.load(open(build + "/compile_commands.json"))
single = work + "/single"
srcdir, outdir = single + "/src", single + "/out"
os.makedirs(srcdir, exist_ok=True)
os.makedirs(outdir, exist_ok=True)
log = single + "/kiln.log"

def command(suffix):
    """The compile's options (no -c SOURCE, -o, depfile options) and its source."""
    for e in entries:
        if e["file"].endswith(suffix):
            args = shlex.split(e["command"])
            while os.path.basename(args[0]) in ("kiln", "ccache", "sccache", "distcc"):
                args = args[1:]
            out, skip = [], False
            for a in args:
                if skip:
                    skip = False
                elif a in ("-o", "-MF", "-MT", "-MQ"):
                    skip = True
                elif a not in ("-c", "-MD", "-MMD") and a != e["file"]:
                    out.append(a)
            return out, e["file"]
    sys.exit("launcher.sh: no %s in compile_commands.json" % suffix)

def status():
    s = json.loads(subprocess.run([kiln, "status", "--json"], env=dict(os.environ, KILN_SCHEDULER=sched),
                                  check=True, capture_output=True, text=True).stdout)
    return s["cache_bytes"], s["cache_blobs"]

copies = {}
def copy(source, tag):
    """The source under a new name: its preprocessed text (line markers)
    and its action differ, so the grid has not seen it."""
    base, ext = os.path.splitext(os.path.basename(source))
    path = "%s/%s_%s%s" % (srcdir, base, tag, ext)
    shutil.copyfile(source, path)
    return path

def log_lines():
    try:
        return open(log).read().splitlines()
    except FileNotFoundError:
        return []

def compile_(options, source, tag, mode=None, kdir=None):
    """Times one compile (through kiln when mode is set); returns seconds,
    the grid store's growth in bytes and blobs, the object's size, and what
    kiln logged for it."""
    env = dict(os.environ)
    prefix = []
    if mode:
        prefix = [kiln]
        env.update(KILN_DIR=kdir, KILN_SCHEDULER=sched, KILN_REMOTE_MODE=mode, KILN_LOGFILE=log)
    obj = "%s/%s.o" % (outdir, tag)
    before = status() if mode else (0, 0)
    seen = len(log_lines())
    t = time.perf_counter()
    subprocess.run(prefix + options + ["-c", copy(source, tag), "-o", obj], cwd=build, env=env, check=True)
    seconds = time.perf_counter() - t
    after = status() if mode else (0, 0)
    logged = [l.split(": ", 1)[-1] for l in log_lines()[seen:]]
    return dict(s=seconds, bytes=after[0] - before[0], blobs=after[1] - before[1],
                obj=os.path.getsize(obj), log=logged)

def mb(n):
    return "%.2f MB" % (n / 1e6)

small, small_src = command("/util/hash.cc")
big, big_src = command("/db/db_impl.cc")

# db/db_impl.cc: its preprocessed text and the files its compile reads.
ii = single + "/db_impl.ii"
subprocess.run(big + ["-E", big_src, "-o", ii], cwd=build, check=True)
ii_bytes = os.path.getsize(ii)
ii_gz = len(gzip.compress(open(ii, "rb").read(), 1))
dep = single + "/db_impl.d"
subprocess.run(big + ["-M", "-MF", dep, big_src, "-o", os.devnull], cwd=build, check=True)
text = open(dep).read().replace("\\\n", " ")
files = {}
for name in text.split(":", 1)[1].split():
    path = os.path.realpath(os.path.join(build, name))
    files[path] = os.path.getsize(path)
system = {p: n for p, n in files.items() if p.startswith("/usr/")}

kdir = single + "/kiln"
first = compile_(small, small_src, "first", "headers", kdir)
tc_files = tc_bytes = 0
for name in os.listdir(kdir + "/toolchains"):
    if name.endswith(".hermetic"):
        for line in open(kdir + "/toolchains/" + name):
            f = line.split()
            if f and f[0] == "F":
                tc_files += 1
                tc_bytes += int(f[1].split("/")[1])

# Interleaved rounds, every other one in reverse order.
kinds = [
    ("plain compiler", lambda r: compile_(small, small_src, "plain%d" % r)),
    ("headers, local cache kept", lambda r: compile_(small, small_src, "warm%d" % r, "headers", kdir)),
    ("headers, fresh local cache", lambda r: compile_(small, small_src, "fresh%d" % r, "headers",
                                                      "%s/kiln-fresh%d" % (single, r))),
    ("preprocessed", lambda r: compile_(small, small_src, "pre%d" % r, "preprocessed", kdir)),
]
got = {label: [] for label, _ in kinds}
for r in range(runs):
    for label, fn in (kinds if r % 2 == 0 else kinds[::-1]):
        got[label].append(fn(r))

# db/db_impl.cc: the first remote compile of it (its headers new to the
# grid, the toolchain there), then rounds of later ones in both modes.
big_first = compile_(big, big_src, "big-first", "headers", kdir)
big_kinds = [
    ("plain compiler", lambda r: compile_(big, big_src, "big-plain%d" % r)),
    ("headers", lambda r: compile_(big, big_src, "big-headers%d" % r, "headers", kdir)),
    ("preprocessed", lambda r: compile_(big, big_src, "big-pre%d" % r, "preprocessed", kdir)),
]
big_got = {label: [] for label, _ in big_kinds}
for r in range(max(1, runs // 2 + 1)):
    for label, fn in (big_kinds if r % 2 == 0 else big_kinds[::-1]):
        big_got[label].append(fn(r))

def med(rows, key):
    return statistics.median(x[key] for x in rows)

def outcomes(rows):
    counts = {}
    for x in rows:
        for o in x["log"] or ["(nothing logged)"]:
            counts[o] = counts.get(o, 0) + 1
    return ", ".join("%d %s" % (n, o) for o, n in sorted(counts.items()))

plain_s = med(got["plain compiler"], "s")
big_plain_s = med(big_got["plain compiler"], "s")
print("| util/hash.cc, one compile (kiln up --workers 1) | time | vs plain | grid store growth | of which the object | kiln logged |")
print("|---|---:|---:|---:|---:|---|")
print("| plain compiler (median of %d) | %.3f s | 1.00x | | | |" % (runs, plain_s))
print("| first remote compile on a fresh grid, headers: toolchain hashed here, uploaded, fetched by the worker | %.3f s | %.2fx | %s, %d blobs | %d B | %s |" % (
    first["s"], first["s"] / plain_s, mb(first["bytes"]), first["blobs"], first["obj"], outcomes([first])))
for label in ("headers, local cache kept", "headers, fresh local cache", "preprocessed"):
    rows = got[label]
    print("| later, %s (median of %d) | %.3f s | %.2fx | %.1f KB, %g blobs | %d B | %s |" % (
        label, len(rows), med(rows, "s"), med(rows, "s") / plain_s, med(rows, "bytes") / 1e3,
        med(rows, "blobs"), med(rows, "obj"), outcomes(rows)))
print()
print("| db/db_impl.cc, one compile | time | vs plain | grid store growth | of which the object | kiln logged |")
print("|---|---:|---:|---:|---:|---|")
print("| plain compiler (median of %d) | %.3f s | 1.00x | | | |" % (len(big_got["plain compiler"]), big_plain_s))
print("| first remote compile of it, headers (toolchain already on the grid) | %.3f s | %.2fx | %s, %d blobs | %d B | %s |" % (
    big_first["s"], big_first["s"] / big_plain_s, mb(big_first["bytes"]), big_first["blobs"], big_first["obj"],
    outcomes([big_first])))
for label in ("headers", "preprocessed"):
    rows = big_got[label]
    print("| later, %s (median of %d) | %.3f s | %.2fx | %.1f KB, %g blobs | %d B | %s |" % (
        label, len(rows), med(rows, "s"), med(rows, "s") / big_plain_s, med(rows, "bytes") / 1e3,
        med(rows, "blobs"), med(rows, "obj"), outcomes(rows)))
print()
print("| db/db_impl.cc (Release), what a remote compile needs | files | bytes |")
print("|---|---:|---:|")
print("| preprocessed text (-E) | 1 | %s |" % mb(ii_bytes))
print("| preprocessed text, gzip -1 | 1 | %s |" % mb(ii_gz))
print("| header tree: every file -M lists (source + headers) | %d | %s |" % (len(files), mb(sum(files.values()))))
print("| of which under /usr | %d | %s |" % (len(system), mb(sum(system.values()))))
print("| toolchain (F lines of toolchains/*.hermetic) | %d | %s |" % (tc_files, mb(tc_bytes)))
EOF
  )
  stop_grid
fi

echo
echo "leveldb 1.23 (Debian), Release + tests, $(grep -c '"command"' "$work/build/compile_commands.json") compiles, ninja -j$jobs; medians of $repeat run(s); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "distcc: ${distcc_remote[distcc]:-n/a} compiles (Release), ${distcc_remote[Debug distcc]:-n/a} (Debug) done by the two loopback distccd"
echo
{
  for k in "${!times[@]}"; do printf '%s\t%s\n' "$k" "${times[$k]}"; done
  printf 'tu\t%s %s %s %s\n' "$tu_plain" "$tu_ccache" "$tu_kiln" "$tu_baseline"
} | awk -v tu_runs="${TU_RUNS:-20}" -v only="$only" -F '\t' '
  function median(s,   n, a, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  $1 == "tu" { split($2, tu, " "); next }
  { m[$1] = median($2) }
  function row(label, base, goal, extra,   r) {
    if (!(label in m)) { printf "| %s | n/a | | %s |\n", label, goal; return }
    r = m[label] / m[base]
    printf "| %s | %.2f s | %.2fx | %s%s |\n", label, m[label], r, goal, extra
  }
  function verdict(r, limit) { return (r <= limit ? " (met)" : " (NOT met)") }
  END {
    print "| build | wall time | vs plain | goal |"
    print "|---|---:|---:|---|"
    row("plain", "plain", "", "")
    if (only != "remote") {
      row("kiln cold", "plain", "<= 1.03x plain", ("kiln cold" in m) ? verdict(m["kiln cold"] / m["plain"], 1.03) : "")
      if (("kiln warm" in m) && ("ccache warm" in m)) {
        r = m["kiln warm"] / m["ccache warm"]
        row("kiln warm", "plain", sprintf("<= 0.80x ccache warm: %.2fx", r), verdict(r, 0.80))
      } else row("kiln warm", "plain", "<= 0.80x ccache warm", "")
      if (("kiln warm, compiles only" in m) && ("ccache warm" in m)) {
        r = m["kiln warm, compiles only"] / m["ccache warm"]
        row("kiln warm, compiles only", "plain", sprintf("(links not cached) %.2fx ccache warm", r), "")
      }
      row("ccache cold", "plain", "", ""); row("ccache warm", "plain", "", "")
      row("sccache cold", "plain", "", ""); row("sccache warm", "plain", "", "")
    }
    row("distcc", "plain", "", "")
    row("kiln remote, headers", "plain", "<= 1.10x plain",
        ("kiln remote, headers" in m) ? verdict(m["kiln remote, headers"] / m["plain"], 1.10) : "")
    row("kiln remote, preprocessed", "plain", "<= 1.10x plain",
        ("kiln remote, preprocessed" in m) ? verdict(m["kiln remote, preprocessed"] / m["plain"], 1.10) : "")
    if (("kiln remote, headers" in m) && ("kiln remote, preprocessed" in m))
      printf "| (headers / preprocessed) | | %.2fx | for the auto default |\n", m["kiln remote, headers"] / m["kiln remote, preprocessed"]
    if ("Debug plain" in m) {
      row("Debug plain", "Debug plain", "", "")
      row("Debug kiln remote, headers", "Debug plain", "<= 1.10x Debug plain",
          ("Debug kiln remote, headers" in m) ? verdict(m["Debug kiln remote, headers"] / m["Debug plain"], 1.10) : "")
      row("Debug distcc", "Debug plain", "(-g: preprocessed text)", "")
    }
    if (only == "remote" || tu[1] == "n/a" || tu[1] == "") exit
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

# The kiln remote builds: where their misses compiled and what the grid
# stored per remote compile (counts summed over the runs, bytes of the last).
if [ -s "$work/remote.tsv" ]; then
  echo
  python3 - "$work/remote.tsv" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    label, counts, store, objects, tc, other = (line.rstrip("\n").split("\t") + [""] * 6)[:6]
    c = [int(x) for x in counts.split()]
    r = rows.setdefault(label, dict(c=[0] * 6, other=""))
    r["c"] = [a + b for a, b in zip(r["c"], c)]
    r["store"], r["blobs"] = (int(x) for x in store.split())
    r["objects"] = int(objects)
    r["tc"] = [int(x) for x in tc.split()]
    r["other"] = r["other"] or other.strip()
print("| kiln remote build | misses: remote headers | remote preprocessed | here | fallback | goal | grid store / remote compile | without the objects | without objects and toolchain |")
print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
for label, r in rows.items():
    h, p, l, f, hits, other = r["c"]
    remote = h + p
    total = remote + l + f
    want = h if "headers" in label else p
    goal = "100 %% remote: %.0f %%%s" % (100.0 * want / total if total else 0,
                                         " (met)" if total and want == total else " (NOT met)")
    per = lambda n: "%.1f KB" % (n / remote / 1e3) if remote else "n/a"
    tc = r["tc"][1] if "headers" in label else 0
    print("| %s | %d | %d | %d | %d | %s | %s | %s | %s |" % (
        label, h, p, l, f, goal, per(r["store"]), per(r["store"] - r["objects"]),
        per(r["store"] - r["objects"] - tc)))
    if r["other"]:
        print("|   KILN_LOGFILE: %s | | | | | | | | |" % r["other"].replace("|", "/"))
print()
print("Grid store after each build (last run): " + "; ".join(
    "%s %.1f MB in %d blobs, objects %.1f MB%s" % (
        label, r["store"] / 1e6, r["blobs"], r["objects"] / 1e6,
        ", toolchain %d files %.1f MB" % (r["tc"][0], r["tc"][1] / 1e6) if r["tc"][0] else "")
    for label, r in rows.items()))
EOF
fi
if [ -n "$single_md" ]; then
  echo
  echo "$single_md"
fi
