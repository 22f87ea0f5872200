#!/usr/bin/env bash
# The compiler launcher on a real project: Debian's leveldb 1.23 (CMake +
# Ninja, Release, with its GoogleTest tests; ~100 compiles at -j2), built
# from fresh build dirs:
#   (a) the plain compiler (the reference),
#   (b) kiln cold (CMAKE_C/CXX_COMPILER_LAUNCHER=$KILN, empty KILN_DIR),
#   (c) kiln warm: every compile a hit,
#   (d) kiln warm from a copy of the source tree at another path: every
#       compile a hit (KILN_BASEDIR=$WORK, the common parent of both trees).
# After each: the launcher's stats (`kiln -z` before, `kiln -s --json`
# after) and every .o/.a/.so and linked program byte for byte against
# (a)'s. leveldb's own tests (ctest) run in (a) (the others' programs are
# the same bytes), except db_test (60 s alone, and its
# HiddenValuesAreRemoved case fails intermittently under load even in a
# plain build) and autocompact_test (20 s): the other 28 take ~5-10 s.
# leveldb on a grid, from several clients, through faults, and a fresh
# client's grid hits: tests/e2e/fleet.sh.
#
# The source is fetched once with apt-get source into
# ${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb (scripts/fetch-leveldb.sh);
# missing build packages are apt-get installed. Budget: < 8 min on 2 cores.
source "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
KILN=$(realpath "$KILN")
jobs=2
"$root/scripts/install-packages.sh" g++ cmake ninja-build python3 procps libgtest-dev libgmock-dev libbenchmark-dev

source "$(dirname "$0")/leveldb_lib.sh"
cache=$(fetch_leveldb)

# Two copies of the tree at different paths under one base dir.
mkdir -p "$WORK/a" "$WORK/b"
cp -a "$cache/leveldb" "$WORK/a/leveldb"
cp -a "$cache/leveldb" "$WORK/b/leveldb"
export KILN_BASEDIR=$WORK

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
# warm (every compile a local hit). Sets STATS.
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

echo "leveldb 1.23 (Debian), Release + tests, ninja -j$jobs; wall time of the ninja step:"
printf '  %s\n' "${summary[@]}"
echo "leveldb: all scenarios passed"
