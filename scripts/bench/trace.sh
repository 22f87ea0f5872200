#!/usr/bin/env bash
# Journal overhead benchmark: what recording every action in the journal
# (docs/insight.md; config key `journal`) costs a warm build. Builds
# Debian's leveldb 1.23 (Release, with its tests: ~100 compiles and ~30
# links, CMake + Ninja -j2) through kiln as compiler and linker launcher,
# once cold to fill the cache, then times:
#   warm build   `ninja -t clean` then `ninja -j2`: every compile a direct
#                hit and every link a hit (one record each)
#   direct hit   db/db_impl.cc's command from compile_commands.json run
#                alone (one launcher process, one record)
# each with KILN_JOURNAL=true and =false, interleaved: ROUNDS (default 7)
# rounds of the warm build, TU_RUNS (default 40) of the direct hit, the
# order flipped every other round so load changes fall on both alike.
# Prints a markdown table of medians and the ratio on/off (goal <= 1.05x).
#
#   cmake --build build --target kiln
#   scripts/bench/trace.sh build
#
# Each warm build is its own invocation (derived from its ninja), as a
# developer's rebuilds are; the direct-hit runs share one
# (KILN_INVOCATION_ID), as the compiles of one build do. Source fetched
# once into ${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb
# (scripts/fetch-leveldb.sh); work files under ${KILN_BENCH_DIR:-/var/tmp}.
set -euo pipefail

build_dir=${1:-build}
rounds=${ROUNDS:-7}
tu_runs=${TU_RUNS:-40}
here=$(cd "$(dirname "$0")/../.." && pwd)
kiln=$(realpath -m "$build_dir/bin/kiln")
jobs=2

"$here/scripts/install-packages.sh" g++ cmake ninja-build python3 libgtest-dev libgmock-dev libbenchmark-dev
src=${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb
"$here/scripts/fetch-leveldb.sh" "$src"

work=$(mktemp -d "${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-trace.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
export KILN_DIR=$work/cache KILN_CONFIG=$work/kiln.conf
unset KILN_SCHEDULER KILN_INVOCATION_ID KILN_JOURNAL

"$kiln" -s >/dev/null 2>&1 || { echo "trace.sh: $kiln has no working launcher" >&2; exit 1; }
cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
  -DCMAKE_CXX_COMPILER=g++ -DLEVELDB_BUILD_TESTS=ON -DLEVELDB_BUILD_BENCHMARKS=OFF \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DCMAKE_C_COMPILER_LAUNCHER="$kiln" -DCMAKE_CXX_COMPILER_LAUNCHER="$kiln" \
  -DCMAKE_C_LINKER_LAUNCHER="$kiln" -DCMAKE_CXX_LINKER_LAUNCHER="$kiln" >"$work/configure.log" 2>&1 ||
  { tail -20 "$work/configure.log" >&2; exit 1; }
echo "trace.sh: cold build (fills the cache)" >&2
ninja -C "$work/build" -j "$jobs" >"$work/cold.log" 2>&1 || { tail -20 "$work/cold.log" >&2; exit 1; }

python3 - "$work" "$kiln" "$rounds" "$tu_runs" "$jobs" <<'EOF'
import json, os, shlex, statistics, subprocess, sys, time
work, kiln, rounds, tu_runs, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
build = os.path.join(work, "build")
modes = [("on", {"KILN_JOURNAL": "true"}), ("off", {"KILN_JOURNAL": "false"})]

def env(extra):
    return dict(os.environ, **extra)

def stats():
    s = json.loads(subprocess.run([kiln, "-s", "--json"], check=True, capture_output=True, text=True).stdout)
    return s["hits"]["total"], s["misses"]["total"], s["links"]["hits"], s["links"]["misses"]

def warm(extra):
    subprocess.run(["ninja", "-C", build, "-t", "clean"], check=True, capture_output=True)
    before = stats()
    t = time.perf_counter()
    subprocess.run(["ninja", "-C", build, "-j", jobs], check=True, capture_output=True, env=env(extra))
    took = time.perf_counter() - t
    after = stats()
    if after[1] != before[1] or after[3] != before[3]:
        sys.exit("trace.sh: a warm build missed the cache: %s -> %s" % (before, after))
    return took, after[0] - before[0], after[2] - before[2]

warm_times = {m: [] for m, _ in modes}
counted = None
for r in range(rounds):
    for label, extra in (modes if r % 2 == 0 else modes[::-1]):
        took, hits, links = warm(extra)
        counted = (hits, links)
        warm_times[label].append(took)
        print("  warm build, journal %-3s %6.2f s" % (label, took), file=sys.stderr)

cmd = None
for e in json.load(open(os.path.join(build, "compile_commands.json"))):
    if e["file"].endswith("/db/db_impl.cc"):
        # compile_commands.json leaves the launcher out.
        cmd = [kiln] + shlex.split(e["command"])
        break
tu_times = {m: [] for m, _ in modes}
tu_env = {m: dict(extra, KILN_INVOCATION_ID="bench-direct-hit") for m, extra in modes}
for label, _ in modes:
    for _ in range(3):
        subprocess.run(cmd, check=True, cwd=build, env=env(tu_env[label]))
for r in range(tu_runs):
    for label, _ in (modes if r % 2 == 0 else modes[::-1]):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=build, env=env(tu_env[label]))
        tu_times[label].append((time.perf_counter() - t) * 1000)

journal = os.path.join(work, "cache", "invocations")
sizes = [os.path.getsize(os.path.join(journal, f)) for f in os.listdir(journal) if f.endswith(".jsonl")]
print("load average: %s" % open("/proc/loadavg").read().split()[:3])
print()
print("| leveldb 1.23, ninja -j%s, through kiln | journal on | journal off | on / off | goal |" % jobs)
print("|---|---|---|---|---|")
def row(name, on, off, unit, fmt):
    r = on / off
    print(("| %s | " + fmt + " %s | " + fmt + " %s | %.3fx | <= 1.05x (%s) |") %
          (name, on, unit, off, unit, r, "met" if r <= 1.05 else "NOT met"))
row("warm build (%d direct hits, %d link hits), median of %d" % (counted[0], counted[1], rounds),
    statistics.median(warm_times["on"]), statistics.median(warm_times["off"]), "s", "%.2f")
row("db/db_impl.cc direct hit, median of %d" % tu_runs,
    statistics.median(tu_times["on"]), statistics.median(tu_times["off"]), "ms", "%.2f")
print()
print("journal: %d invocations kept, median %.1f KiB each" %
      (len(sizes), statistics.median(sizes) / 1024 if sizes else 0))
EOF
