#!/usr/bin/env bash
# kiln's main job on its embedded default — no server to configure.
#
# Installs what kiln needs and builds it, fetches a real C++ project
# (Debian's leveldb 1.23, with `apt-get source`), then builds it with kiln
# as the compiler and linker launcher, in a private cache:
#   1. cold: every compile misses (compiles that repeat inside the build,
#      such as util/testutil.cc in each test target, already hit);
#   2. warm: the build directory deleted and configured again (as after
#      `rm -rf build`), every compile a cache hit;
# runs leveldb's tests against the warm build through `kiln test` (CTest
# tests in parallel, one binary's cases in shards, JUnit reports, then a
# rerun answered from the cache), and prints what kiln saved: hits, time,
# and the bytes of object code that came from the cache.
# ninja's status line is the progress display ([done/total, elapsed]).
#
#   scripts/demo.sh            JOBS=N scripts/demo.sh (default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/install-deps.sh
echo "== building kiln (out/demo)"
cmake -S . -B out/demo -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build out/demo --target kiln kiln-scheduler kiln-worker
kiln=$root/out/demo/bin/kiln

echo "== fetching leveldb's source (apt-get source leveldb)"
src=$root/out/demo/src/leveldb
scripts/fetch-leveldb.sh "$src"

export KILN_DIR=$root/out/demo/cache
export KILN_CONFIG=$KILN_DIR/kiln.conf
rm -rf "$KILN_DIR"
mkdir -p "$KILN_DIR"
jobs=${JOBS:-$(nproc)}
export NINJA_STATUS="[%f/%t %es] "

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# build NAME: configures out/demo/NAME afresh and builds leveldb there.
build() {
  local dir=$root/out/demo/$1 t
  rm -rf "$dir"
  cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER_LAUNCHER="$kiln" -DCMAKE_CXX_COMPILER_LAUNCHER="$kiln" \
    -DCMAKE_C_LINKER_LAUNCHER="$kiln" -DCMAKE_CXX_LINKER_LAUNCHER="$kiln" \
    -DLEVELDB_BUILD_TESTS=ON -DLEVELDB_BUILD_BENCHMARKS=OFF >"$dir.configure.log" 2>&1 || {
    tail -20 "$dir.configure.log"
    exit 1
  }
  "$kiln" -z >/dev/null
  t=$(now)
  ninja -C "$dir" -j "$jobs"
  BUILD_S=$(seconds "$t" "$(now)")
}

stat_of() { "$kiln" -s --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }

echo "== cold build through kiln (-j$jobs)"
build build
cold_s=$BUILD_S
cold_hits=$(stat_of 's["hits"]["total"]')
cold_misses=$(stat_of 's["misses"]["total"]')

echo "== warm build through kiln: rm -rf the build directory, configure, build (-j$jobs)"
build build
warm_s=$BUILD_S
warm_hits=$(stat_of 's["hits"]["total"]')
warm_misses=$(stat_of 's["misses"]["total"]')
warm_link_hits=$(stat_of 's["links"]["hits"]')
object_bytes=$(find "$root/out/demo/build" -name '*.o' -printf '%s\n' | awk '{ s += $1 } END { print s }')

# leveldb's tests through `kiln test` (docs/testing.md). db_test is left
# out: its main() runs a minute of benchmarks before every test run.
reports=$root/out/demo/reports
mkdir -p "$reports"
echo "== leveldb's test suite through kiln test: its CTest tests, $jobs at a time"
"$kiln" test --ctest "$root/out/demo/build" -E '^db_test$' -j "$jobs" --junit "$reports/ctest.xml"
echo "== table_test's GoogleTest cases in 4 shards (later runs are split by the durations this one records)"
"$kiln" test --shards 4 -j "$jobs" --junit "$reports/table_test.xml" -- "$root/out/demo/build/table_test"
echo "== the same suite again: nothing changed, so every test comes from kiln's cache"
"$kiln" test --ctest "$root/out/demo/build" -E '^db_test$' -j "$jobs" --junit "$reports/ctest-rerun.xml"
echo "JUnit reports: $reports/{ctest,table_test,ctest-rerun}.xml"

echo "== kiln -s"
"$kiln" -s
echo
awk -v c="$cold_s" -v w="$warm_s" -v ch="$cold_hits" -v cm="$cold_misses" -v wh="$warm_hits" \
  -v wm="$warm_misses" -v lh="$warm_link_hits" -v b="$object_bytes" 'BEGIN {
  printf "cold build: %5.1f s  (%d compiles, %d cache hits)\n", c, ch + cm, ch
  printf "warm build: %5.1f s  (%d compiles, %d cache hits, %d misses; links: %d cached)\n", w, wh + wm, wh, wm, lh
  printf "kiln saved %.1f s (%.1fx faster) and served %.1f MiB of object code from its cache.\n",
         c - w, c / w, b / 1048576
}'
