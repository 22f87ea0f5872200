#!/usr/bin/env bash
# The compiler launcher on a real project: Debian's leveldb 1.23 (CMake +
# Ninja, Release, with its GoogleTest tests; ~100 compiles at -j2), built
# from fresh build dirs:
#   (a) the plain compiler (the reference),
#   (b) kiln cold (CMAKE_C/CXX_COMPILER_LAUNCHER=$KILN, empty KILN_DIR),
#   (c) kiln warm: every compile a hit,
#   (d) kiln warm from a copy of the source tree at another path: every
#       compile a hit (KILN_BASEDIR=$WORK, the common parent of both trees),
#   (e) kiln from an empty local cache against `kiln up --workers 2`: every
#       miss compiled on the grid (none locally),
#   (f) the same again (same paths) from another empty local cache: every
#       compile a hit, each distinct compile fetched from the grid.
# After each: the launcher's stats (`kiln -z` before, `kiln -s --json`
# after) and every .o/.a/.so and linked program byte for byte against
# (a)'s. leveldb's own tests (ctest) run in (a) and in (e), the build whose
# every compile came from a worker (the others' programs are the same bytes
# as (a)'s), except db_test (60 s alone, and its HiddenValuesAreRemoved case
# fails intermittently under load even in a plain build) and
# autocompact_test (20 s): the other 28 take ~5-10 s.
#
# The source is fetched once with apt-get source into
# ${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb (scripts/fetch-leveldb.sh);
# missing build packages are apt-get installed. Budget: < 8 min on 2 cores.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
KILN=$(realpath "$KILN")
jobs=2
up_pid=""
cleanup() {
  if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then
    kill -INT "$up_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$up_pid" 2>/dev/null || break; sleep 0.05; done
    pkill -9 -P "$up_pid" 2>/dev/null || true
    kill -9 "$up_pid" 2>/dev/null || true
  fi
  cleanup_grid
}
trap cleanup EXIT

"$root/scripts/install-packages.sh" g++ cmake ninja-build python3 procps libgtest-dev libgmock-dev libbenchmark-dev

source "$(dirname "$0")/leveldb_lib.sh"
cache=$(fetch_leveldb)

# Two copies of the tree at different paths under one base dir.
mkdir -p "$WORK/a" "$WORK/b"
cp -a "$cache/leveldb" "$WORK/a/leveldb"
cp -a "$cache/leveldb" "$WORK/b/leveldb"
export KILN_BASEDIR=$WORK

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
summary=()

# build DIR SRC [LAUNCHER]: configures DIR afresh and builds it; sets BUILD_S
# (the ninja step's wall time) and COMPILES (entries in compile_commands.json).
build() {
  local dir=$1 src=$2 launcher=${3:-} t
  local flags=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
    -DLEVELDB_BUILD_TESTS=ON -DLEVELDB_BUILD_BENCHMARKS=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
  [ -n "$launcher" ] && flags+=(-DCMAKE_C_COMPILER_LAUNCHER="$launcher" -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"
    -DCMAKE_C_LINKER_LAUNCHER="$launcher" -DCMAKE_CXX_LINKER_LAUNCHER="$launcher")
  rm -rf "$dir"
  cmake -S "$src" -B "$dir" "${flags[@]}" >"$dir.configure.log" 2>&1 ||
    fail "configure of $dir failed: $(tail -20 "$dir.configure.log")"
  [ -n "$launcher" ] && { "$KILN" -z >/dev/null || fail "kiln -z failed"; }
  t=$(now)
  ninja -C "$dir" -j "$jobs" >"$dir.log" 2>&1 || fail "build in $dir failed: $(tail -30 "$dir.log")"
  BUILD_S=$(since "$t")
  COMPILES=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$dir/compile_commands.json")
}

# check_stats STEP RULE COMPILES [DISTINCT]: reads `kiln -s --json` and
# checks RULE: cold (every compile a hit or a local miss, none uncacheable),
# warm (every compile a local hit), grid-miss (no compile ran locally),
# grid-hit (every compile a hit, >= DISTINCT from the grid). Sets STATS.
check_stats() {
  "$KILN" -s --json >"$WORK/stats.json" 2>"$WORK/stats.err" ||
    fail "$1: kiln -s --json failed: $(cat "$WORK/stats.err")"
  STATS=$(python3 - "$WORK/stats.json" "$2" "$3" "${4:-0}" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
rule, n, distinct = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h, m = s["hits"], s["misses"]
line = ("hits %d (direct %d, preprocessed %d, remote %d), misses %d (local %d, remote %d, fallback %d), "
        "uncacheable %d, failed %d, errors %d" % (h["total"], h["direct"], h["preprocessed"], h["remote"],
        m["total"], m["local"], m["remote"], m["remote_fallback"], s["uncacheable_total"],
        s["compile_failed"], s["errors"]))
problems = []
if h["total"] + m["total"] + s["uncacheable_total"] != n:
    problems.append("hits + misses + uncacheable != %d compiles" % n)
if s["uncacheable_total"]:
    problems.append("uncacheable: %s" % s["uncacheable"])
if s["errors"] or s["compile_failed"]:
    problems.append("errors/failed compiles")
if rule == "warm" and h["total"] != n:
    problems.append("expected %d hits" % n)
if rule == "warm" and (s["links"]["misses"] or not s["links"]["hits"]):
    problems.append("expected every link cached: %s" % s["links"])
line += ", links: %d hits, %d misses" % (s["links"]["hits"], s["links"]["misses"])
if rule == "grid-miss" and (m["local"] or m["remote_fallback"] or m["remote"] == 0 or h["remote"] + m["remote"] < distinct):
    problems.append("expected every distinct compile (%d) on the grid, none locally" % distinct)
if rule == "grid-hit" and (h["total"] != n or h["remote"] < distinct):
    problems.append("expected %d hits, at least %d of them from the grid" % (n, distinct))
print(line + ("" if not problems else "  PROBLEM: " + "; ".join(problems)))
sys.exit(1 if problems else 0)
EOF
  ) || fail "$1: launcher stats: $STATS"
}


# run_tests DIR: leveldb's tests but db_test and autocompact_test.
run_tests() {
  local t
  t=$(now)
  ctest --test-dir "$1" -j "$jobs" -E '^(db_test|autocompact_test)$' --timeout 120 >"$1.ctest.log" 2>&1 ||
    fail "leveldb's tests failed in $1: $(grep -E 'tests passed|Failed|\*\*\*' "$1.ctest.log" | tail -15)"
  TESTS="$(grep -oE '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$1.ctest.log") ($(since "$t") s)"
}

record() { summary+=("$(printf '%-34s %6s s  %s' "$1" "$2" "$3")"); }

# (a) the plain compiler.
build "$WORK/a/build-plain" "$WORK/a/leveldb"
n=$COMPILES
distinct=$(distinct_compiles "$WORK/a/build-plain")
run_tests "$WORK/a/build-plain"
record "(a) plain" "$BUILD_S" "$n compiles ($distinct distinct); tests: $TESTS"

# (b) cold, (c) warm, (d) warm from the copy at another path.
export KILN_DIR=$WORK/cache-local KILN_LOGFILE=$WORK/kiln.log
step() { # STEP BUILD_DIR SRC RULE [tests]
  build "$2" "$3" "$KILN"
  [ "$COMPILES" -eq "$n" ] || fail "$1: $COMPILES compiles, the plain build had $n"
  check_stats "$1" "$4" "$n" "$distinct"
  same_outputs "$WORK/a/build-plain" "$2"
  TESTS="not run (the same bytes as (a)'s)"
  [ "${5:-}" = tests ] && run_tests "$2"
  record "$1" "$BUILD_S" "$OUTPUTS outputs identical; tests: $TESTS"
  summary+=("$(printf '%44s%s' '' "$STATS")")
}
step "(b) kiln cold" "$WORK/a/build-cold" "$WORK/a/leveldb" cold
step "(c) kiln warm" "$WORK/a/build-warm" "$WORK/a/leveldb" warm
step "(d) kiln warm, copy of the tree" "$WORK/b/build-warm" "$WORK/b/leveldb" warm

# (e), (f): a one-machine grid started from empty stores.
mkdir -p "$WORK/up"
KILN_DIR=$WORK/up "$KILN" up --workers 2 --port 0 >"$WORK/up/out" 2>"$WORK/up/err" &
up_pid=$!
for _ in $(seq 1 300); do grep -q '^KILN_SCHEDULER=tcp://' "$WORK/up/out" && break; sleep 0.05; done
grep -q '^KILN_SCHEDULER=' "$WORK/up/out" || fail "kiln up printed no address: $(cat "$WORK/up/err")"
export "$(head -1 "$WORK/up/out")"
for _ in $(seq 1 200); do
  "$KILN" status --json 2>/dev/null |
    python3 -c 'import json,sys; sys.exit(len(json.load(sys.stdin)["workers"]) != 2)' 2>/dev/null && break
  sleep 0.05
done

export KILN_DIR=$WORK/cache-grid-e
step "(e) kiln + grid, empty local cache" "$WORK/a/build-grid" "$WORK/a/leveldb" grid-miss tests
# (f) at (e)'s paths: a grid entry is keyed by the preprocessed source,
# whose line markers name the tree and the build dir (port_config.h).
export KILN_DIR=$WORK/cache-grid-f
step "(f) kiln + grid, empty local again" "$WORK/a/build-grid" "$WORK/a/leveldb" grid-hit

kill -INT "$up_pid"
for _ in $(seq 1 200); do kill -0 "$up_pid" 2>/dev/null || break; sleep 0.05; done
wait "$up_pid" || fail "kiln up exited non-zero after SIGINT: $(tail -5 "$WORK/up/err")"
up_pid=""

echo "leveldb 1.23 (Debian), Release + tests, ninja -j$jobs; wall time of the ninja step:"
printf '  %s\n' "${summary[@]}"
echo "leveldb: all scenarios passed"
