#!/usr/bin/env bash
# Every compile goes remote, -g included: Debian's leveldb 1.23 (CMake +
# Ninja, with its GoogleTest tests) built through `kiln up --workers 2` from
# an empty local cache, in headers mode (the default: the compiler, its
# libraries and every header shipped, the compile run at the client's
# paths in the worker's sandbox; docs/launcher.md), against a plain build:
#   Debug             the whole build (-g -O0, ~100 compiles)
#   RelWithDebInfo    the leveldb library (-g -O2, -ffile-prefix-map of the
#                     checkout)
# Checks: every .o/.a/.so and linked program byte for byte the plain
# build's, and `kiln -s`: no compile here (misses local 0, no fallback),
# every miss remote in headers mode. Then a copy of the checkout at another
# path (KILN_BASEDIR, an empty local cache) builds the library again: every
# compile a grid hit, the outputs the same bytes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/up_lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
KILN=$(realpath "$KILN")
jobs=2
"$root/scripts/install-packages.sh" g++ cmake ninja-build python3 procps libgtest-dev libgmock-dev libbenchmark-dev

source "$(dirname "$0")/leveldb_lib.sh"
cache=$(fetch_leveldb)
# Two checkouts under one base directory.
mkdir -p "$WORK/one" "$WORK/two"
cp -a "$cache/leveldb" "$WORK/one/leveldb"
cp -a "$cache/leveldb" "$WORK/two/leveldb"
export KILN_BASEDIR=$WORK


# build CHECKOUT TYPE TARGET [LAUNCHER]: configures CHECKOUT/build-TYPE
# afresh and builds TARGET; sets BUILD_S. RelWithDebInfo maps the
# checkout's path away (-ffile-prefix-map), so its objects do not record it.
build() {
  local top=$1 type=$2 target=$3 launcher=${4:-} t
  local dir=$top/build-$type src=$top/leveldb
  local flags=(-G Ninja -DCMAKE_BUILD_TYPE="$type" -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
    -DLEVELDB_BUILD_TESTS=ON -DLEVELDB_BUILD_BENCHMARKS=OFF)
  [ "$type" = RelWithDebInfo ] &&
    flags+=(-DCMAKE_C_FLAGS="-ffile-prefix-map=$top=." -DCMAKE_CXX_FLAGS="-ffile-prefix-map=$top=.")
  [ -n "$launcher" ] && flags+=(-DCMAKE_C_COMPILER_LAUNCHER="$launcher" -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
  rm -rf "$dir"
  cmake -S "$src" -B "$dir" "${flags[@]}" >"$dir.configure.log" 2>&1 ||
    fail "configure of $dir failed: $(tail -20 "$dir.configure.log")"
  t=$(now)
  ninja -C "$dir" -j "$jobs" "$target" >"$dir.log" 2>&1 || fail "build in $dir failed: $(tail -30 "$dir.log")"
  BUILD_S=$(since "$t")
}

start_grid grid 2
export KILN_SCHEDULER=$GRID
summary=()
for spec in "Debug all" "RelWithDebInfo leveldb"; do
  read -r type target <<<"$spec"
  # Both builds in one build directory (-g records it), one after the other.
  build "$WORK/one" "$type" "$target"
  plain_s=$BUILD_S
  mv "$WORK/one/build-$type" "$WORK/plain-$type"
  export KILN_DIR=$WORK/cache-$type KILN_LOGFILE=$WORK/kiln-$type.log
  build "$WORK/one" "$type" "$target" "$KILN"
  same_outputs "$WORK/plain-$type" "$WORK/one/build-$type"
  stats=$("$KILN" -s --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
m = s["misses"]
line = "%d compiles: %d remote (headers %d), %d local, %d fallback, %d hits, %d uncacheable, %d failed" % (
    s["hits"]["total"] + m["total"] + s["uncacheable_total"], m["remote"], m["remote_by_mode"]["headers"],
    m["local"], m["remote_fallback"], s["hits"]["total"], s["uncacheable_total"], s["compile_failed"])
ok = (m["local"] == 0 and m["remote_fallback"] == 0 and m["remote"] > 0 and
      m["remote_by_mode"]["headers"] == m["remote"] and not s["uncacheable_total"] and not s["compile_failed"])
print(line)
sys.exit(0 if ok else 1)') || fail "$type: not every compile went remote: $stats ($(grep -v miss_remote_headers "$KILN_LOGFILE" | tail -5))"
  summary+=("$(printf '%-15s plain %6s s, kiln cold on the grid %6s s; %s outputs identical; %s' \
    "$type" "$plain_s" "$BUILD_S" "$OUTPUTS" "$stats")")
done
# The copy at another path, from an empty local cache: every compile a hit
# on the grid, the outputs the first checkout's plain build's bytes.
export KILN_DIR=$WORK/cache-copy KILN_LOGFILE=$WORK/kiln-copy.log
build "$WORK/two" RelWithDebInfo leveldb "$KILN"
same_outputs "$WORK/plain-RelWithDebInfo" "$WORK/two/build-RelWithDebInfo"
stats=$("$KILN" -s --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
h, m = s["hits"], s["misses"]
print("%d compiles: %d grid hits, %d misses, %d uncacheable" % (h["total"] + m["total"] + s["uncacheable_total"],
      h["remote"], m["total"], s["uncacheable_total"]))
sys.exit(0 if h["remote"] > 0 and h["remote"] == h["total"] and m["total"] == 0 and not s["uncacheable_total"] else 1)') ||
  fail "the copy at another path did not hit the grid for every compile: $stats ($(tail -5 "$KILN_LOGFILE"))"
summary+=("$(printf '%-15s copy of the checkout at another path %6s s; %s outputs identical; %s' \
  "RelWithDebInfo" "$BUILD_S" "$OUTPUTS" "$stats")")
printf '  %s\n' "${summary[@]}"
echo "leveldb_remote: all scenarios passed"
