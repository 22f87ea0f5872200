#!/usr/bin/env bash
# `kiln test` benchmark: the skewed fixture suite (tests/fixtures/README.md:
# 40 Skewed tests that sleep, a few long ones, plus 6 instant ones) run in N
# parallel shards (N = 2, 4, 8) by kiln and by the usual alternatives, each
# against the ideal makespan max(longest test, total / N) computed from
# tests/fixtures/skewed_durations.inc, and a cached rerun against a full run.
#
#   scripts/bench/test.sh [BUILD_DIR]            # default: the repo's out/test
#   REPEAT=1 scripts/bench/test.sh out/dev       # quicker
#   LEVELDB_BUILD=out/demo/build scripts/bench/test.sh   # plus leveldb's tests
#
# Builds `kiln fixture_skewed_suite` in BUILD_DIR (ninja; configures it like
# scripts/test.sh when it has no build.ninja), and configures and builds
# tests/fixtures/ctest_project into a temp dir once. Then, REPEAT (default
# 3) times and for each N, measures:
#   kiln cold plan      from an empty KILN_DIR (no recorded durations:
#                       every test estimated alike),
#                       `kiln test --no-cache --shards N -j N`
#   kiln recorded plan  the same command again, planned on the durations
#                       the cold run recorded
#   kiln queue          `kiln test --no-cache --queue -j N`, same KILN_DIR
#   gtest round-robin   N copies of the binary at once with
#                       GTEST_TOTAL_SHARDS=N GTEST_SHARD_INDEX=i (as
#                       tests/fixtures/baseline.sh does): the slowest one
#   ctest -jN           `ctest -j N -R '^Skewed\.'` on ctest_project (one
#                       process per test; CTest's cost data recorded by an
#                       unmeasured run first)
#   kiln cached rerun   `kiln test --shards N -j N` (no --no-cache) after
#                       the runs above: every test should come from the
#                       cache (summary.cached == summary.total, checked)
# For the sharded kiln runs the makespan is the longest shard's wall_ms in
# the --json report (run.shards); in queue mode run.shards holds batches,
# several per slot, so there it is kiln's own run.wall_ms. The whole
# command's wall time is printed next to it. gtest and ctest rows are wall
# times of the whole run. The suite sleeps, so N above the core count still
# scales, but kiln's own work (staging each shard, storing every result)
# does not: other load, CPU or disk, skews the kiln rows most; the
# load average is printed. Every run must pass all tests; a kiln run that
# ends in a setup error (exit 2, a shard could not start) redoes that N's
# four kiln runs from a fresh KILN_DIR, at most twice, and is listed under
# the tables. Whole run at REPEAT=3: about 3 minutes (4 under load). Work
# files go to ${KILN_BENCH_DIR:-/var/tmp}.
#
# With LEVELDB_BUILD (a leveldb build tree with its tests, e.g. the one
# scripts/demo.sh leaves in out/demo/build), also leveldb's real tests
# through kiln test, from an empty KILN_DIR, twice: every GoogleTest binary
# on its own (--shards auto; its JUnit file must list every case
# --gtest_list_tests lists), and the whole CTest suite (--ctest). The second
# run must come entirely from the cache. db_test is left out, as in the
# launcher benchmark: its main() runs a minute of benchmarks before the
# tests, and HiddenValuesAreRemoved fails under load in plain ctest too.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$(realpath -m "${1:-$here/out/test}")
repeat=${REPEAT:-3}
ns=(2 4 8)
kiln="$build_dir/bin/kiln"
suite="$build_dir/bin/fixture_skewed_suite"
unset FIXTURE_FAILURES FIXTURE_TIME_SCALE FIXTURE_STATE_DIR FIXTURE_EXPECT_CWD
unset GTEST_TOTAL_SHARDS GTEST_SHARD_INDEX GTEST_FILTER

case "$repeat" in '' | *[!0-9]* | 0) echo "test.sh: REPEAT must be a positive integer" >&2; exit 2 ;; esac

work=$(mktemp -d "${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-test.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
fail() { echo "test.sh: $*" >&2; exit 1; }

# The ideal from the durations the suite sleeps: "count total_ms longest_ms".
read -r count total_ms longest_ms < <(awk '
  /^[[:space:]]*\/\// { next }
  { n = split($0, f, ","); for (i = 1; i <= n; i++) if (f[i] ~ /[0-9]/) { v = f[i] + 0; c++; t += v; if (v > m) m = v } }
  END { print c + 0, t + 0, m + 0 }' "$here/tests/fixtures/skewed_durations.inc")
[ "$count" -eq 40 ] || fail "expected 40 durations in skewed_durations.inc, found $count"

echo "== build: ninja -C $build_dir kiln fixture_skewed_suite" >&2
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S "$here" -B "$build_dir" -G Ninja -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >"$work/configure.log" 2>&1 || { tail -20 "$work/configure.log" >&2; fail "configuring $build_dir failed"; }
fi
ninja -C "$build_dir" kiln fixture_skewed_suite >"$work/build.log" 2>&1 ||
  { tail -20 "$work/build.log" >&2; fail "building kiln fixture_skewed_suite in $build_dir failed"; }

# Every test the binary has (the Skewed ones and a few instant ones).
listed=$("$suite" --gtest_list_tests | grep -c '^  ') || fail "$suite --gtest_list_tests failed"

echo "== build: tests/fixtures/ctest_project" >&2
ctp="$work/ctp"
{ cmake -S "$here/tests/fixtures/ctest_project" -B "$ctp" -G Ninja -DCMAKE_BUILD_TYPE=Release &&
  ninja -C "$ctp"; } >"$work/ctp.log" 2>&1 ||
  { tail -20 "$work/ctp.log" >&2; fail "configuring/building tests/fixtures/ctest_project failed"; }
# Checks the selection and records CTest's cost data (what a second
# `ctest -jN` in a developer's build dir would have).
ctest --test-dir "$ctp" -j 8 -R '^Skewed\.' >"$work/ctest-warm.log" 2>&1 ||
  { tail -20 "$work/ctest-warm.log" >&2; fail "ctest on ctest_project failed"; }
grep -q '100% tests passed, 0 tests failed out of 40' "$work/ctest-warm.log" ||
  { tail -5 "$work/ctest-warm.log" >&2; fail "ctest -R '^Skewed\\.' did not run exactly 40 passing tests"; }

declare -A times
add() { times[$1]="${times[$1]:-} $2"; }

# kiln_run KIND N [kiln test options...]: kiln test on the suite with
# KILN_DIR=$kdir; queues KIND.wall.N, KIND.makespan.N (s) and KIND.cached.N
# in `pending`. Returns 3 on a setup error (exit 2: a shard could not run),
# after showing it; anything else that is not all green ends the script.
kiln_run() {
  local kind=$1 n=$2 t0 t1 rc=0 wall facts makespan cached nshards run_wall
  local json="$work/$1.$2.json" log="$work/$1.$2.log"
  shift 2
  t0=$(now)
  KILN_DIR=$kdir "$kiln" test --progress never --json "$json" "$@" -- "$suite" >"$log" 2>&1 || rc=$?
  t1=$(now)
  if [ "$rc" -ne 0 ]; then
    grep -v 'not run: the run was stopped by an earlier error' "$log" | tail -20 >&2
    [ "$rc" -eq 2 ] || fail "KILN_DIR=$kdir $kiln test $* -- $suite exited $rc"
    echo "test.sh: KILN_DIR=$kdir $kiln test $* -- $suite exited 2 (setup error); redoing N=$n" >&2
    setup_errors+=("N=$n kiln $kind: $(grep -m1 'kiln: error:' "$log" || echo "exit 2")")
    return 3
  fi
  wall=$(elapsed "$t0" "$t1")
  facts=$(python3 - "$json" "$listed" <<'EOF2'
import json, sys
doc = json.load(open(sys.argv[1]))
s, run = doc["summary"], doc["run"]
if not s["ok"] or s["passed"] != s["total"] or s["total"] != int(sys.argv[2]):
    sys.exit("not all green: %s" % s)
# Queue mode: run.shards are batches, several per slot.
queue = any(sh["label"].startswith("batch") for sh in run["shards"])
ms = run["wall_ms"] if queue or not run["shards"] else max(sh["wall_ms"] for sh in run["shards"])
print("%.3f %d/%d %d %.3f" % (ms / 1000, s["cached"], s["total"], len(run["shards"]), run["wall_ms"] / 1000))
EOF2
  ) || fail "kiln test $* -- $suite: bad report $json"
  read -r makespan cached nshards run_wall <<<"$facts"
  pending+=("$kind.wall.$n $wall" "$kind.makespan.$n $makespan" "$kind.cached.$n $cached")
  printf '  %-20s makespan %6.2f s  wall %6.2f s  (run.wall_ms %6.2f s)  %s cached, %s shards/batches\n' \
    "kiln $kind" "$makespan" "$wall" "$run_wall" "$cached" "$nshards" >&2
}

# kiln_series N: the four kiln runs from a fresh KILN_DIR, in order (each
# plans on what the ones before recorded).
kiln_series() {
  local n=$1
  kiln_run cold "$n" --no-cache --shards "$n" -j "$n" || return
  kiln_run recorded "$n" --no-cache --shards "$n" -j "$n" || return
  kiln_run queue "$n" --no-cache --queue -j "$n" || return
  kiln_run rerun "$n" --shards "$n" -j "$n" || return
}

setup_errors=()
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $repeat run(s)" >&2
for r in $(seq 1 "$repeat"); do
  for n in "${ns[@]}"; do
    echo "run $r/$repeat, N=$n" >&2
    # A setup error (a shard that could not start) redoes the whole series
    # from a fresh KILN_DIR, at most twice; it is listed under the tables.
    for attempt in 1 2 3; do
      kdir="$work/kiln-$n-$r-$attempt"
      pending=()
      if kiln_series "$n"; then
        for p in "${pending[@]}"; do add "${p% *}" "${p##* }"; done
        rm -rf "$kdir"
        break
      fi
      rm -rf "$kdir"
      [ "$attempt" -lt 3 ] || fail "kiln test failed with a setup error 3 times in a row (N=$n)"
    done

    pids=()
    t0=$(now)
    for ((i = 0; i < n; i++)); do
      GTEST_TOTAL_SHARDS=$n GTEST_SHARD_INDEX=$i "$suite" >"$work/gtest-$i.log" 2>&1 &
      pids+=($!)
    done
    for i in "${!pids[@]}"; do
      wait "${pids[$i]}" || { tail -20 "$work/gtest-$i.log" >&2; fail "gtest shard $i/$n failed"; }
    done
    pids=()
    add "gtest.$n" "$(elapsed "$t0" "$(now)")"
    printf '  %-20s                  wall %6.2f s\n' "gtest round-robin" "${times[gtest.$n]##* }" >&2

    t0=$(now)
    ctest --test-dir "$ctp" -j "$n" -R '^Skewed\.' >"$work/ctest.log" 2>&1 ||
      { tail -20 "$work/ctest.log" >&2; fail "ctest -j $n failed"; }
    add "ctest.$n" "$(elapsed "$t0" "$(now)")"
    printf '  %-20s                  wall %6.2f s\n' "ctest -j$n" "${times[ctest.$n]##* }" >&2
  done
done

echo
echo "skewed fixture suite: $count Skewed tests, $(awk -v t="$total_ms" 'BEGIN { printf "%.2f", t / 1000 }') s of sleeps, longest $(awk -v t="$longest_ms" 'BEGIN { printf "%.2f", t / 1000 }') s (+ $((listed - count)) instant tests); medians of $repeat run(s); $(nproc) cores; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
{
  for k in "${!times[@]}"; do printf '%s\t%s\n' "$k" "${times[$k]}"; done
} | awk -F '\t' -v total="$total_ms" -v longest="$longest_ms" -v ns="${ns[*]}" '
  function median(s,   n, a, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  $1 ~ /\.cached\./ { sub(/^ +/, "", $2); cached[$1] = $2; next }
  { m[$1] = median($2) }
  function lb(n) { return (total / n > longest ? total / n : longest) / 1000 }
  function row(label, key,   i, n, v) {
    printf "| %s |", label
    for (i = 1; i <= nn; i++) {
      n = nlist[i]
      if (key == "lb") v = lb(n); else v = m[key "." n]
      printf " %.2f s | %.2fx |", v, v / lb(n)
    }
    print ""
  }
  function verdict(r, limit) { return (r <= limit ? "met" : "NOT met") }
  END {
    nn = split(ns, nlist, " ")
    printf "| run |"; for (i = 1; i <= nn; i++) printf " N=%s | vs lower bound |", nlist[i]; print ""
    printf "|---|"; for (i = 1; i <= nn; i++) printf "---:|---:|"; print ""
    row("lower bound max(longest, total/N)", "lb")
    row("kiln cold plan, makespan", "cold.makespan")
    row("kiln cold plan, whole command", "cold.wall")
    row("kiln recorded plan, makespan", "recorded.makespan")
    row("kiln recorded plan, whole command", "recorded.wall")
    row("kiln queue, makespan (run.wall_ms)", "queue.makespan")
    row("kiln queue, whole command", "queue.wall")
    row("gtest round-robin, N processes", "gtest")
    row("ctest -jN (with cost data)", "ctest")
    print ""
    printf "goal: kiln recorded plan makespan <= 1.10x lower bound:"
    for (i = 1; i <= nn; i++) {
      n = nlist[i]; r = m["recorded.makespan." n] / lb(n)
      printf " N=%s %.2fx %s%s", n, r, verdict(r, 1.10), (i < nn ? ";" : "")
    }
    print ""
    print ""
    print "| cached rerun (no --no-cache, after the runs above) | wall | recorded-plan run wall | ratio | cached/total (every repeat) |"
    print "|---|---:|---:|---:|---|"
    for (i = 1; i <= nn; i++) {
      n = nlist[i]; c = cached["rerun.cached." n]
      k = split(c, cs, " "); all = 1
      for (j = 1; j <= k; j++) { split(cs[j], p, "/"); if (p[1] != p[2]) all = 0 }
      printf "| --shards %s -j %s | %.2f s | %.2f s | %.3fx | %s: %s |\n", n, n, m["rerun.wall." n], m["recorded.wall." n],
        m["rerun.wall." n] / m["recorded.wall." n], c, (all ? "all cached" : "NOT all cached")
    }
  }'
echo
if [ "${#setup_errors[@]}" -eq 0 ]; then
  echo "kiln test setup errors (series redone): none"
else
  echo "kiln test setup errors (series redone from a fresh KILN_DIR): ${#setup_errors[@]}"
  for e in "${setup_errors[@]}"; do echo "- $e"; done
fi

[ -n "${LEVELDB_BUILD:-}" ] || exit 0
lv=$(realpath "$LEVELDB_BUILD")
[ -f "$lv/CTestTestfile.cmake" ] || fail "LEVELDB_BUILD=$lv is not a CTest build tree"
echo
echo "leveldb's tests ($lv) through kiln test, empty cache, then again; -j $(nproc)"
echo
echo "| binary | listed | JUnit cases | passed | first run | second run | cached |"
echo "|---|---:|---:|---:|---:|---:|---|"
export KILN_DIR=$work/leveldb-cache
rm -rf "$KILN_DIR"
total_first=0 total_second=0 all_ok=1
count_cases() { python3 -c "import sys, xml.etree.ElementTree as E; print(len(E.parse(sys.argv[1]).getroot().findall('./testsuite/testcase')))" "$1"; }
json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$2"; }
for bin in "$lv"/*_test; do
  name=$(basename "$bin")
  case $name in c_test | db_test) continue ;; esac
  listed=$("$bin" --gtest_list_tests | grep -c '^  ' || true)
  t=$(now)
  rc=0
  "$kiln" test --progress never --junit "$work/$name.xml" --json "$work/$name.1.json" -- "$bin" \
    >"$work/$name.1.out" 2>&1 || rc=$?
  first=$(elapsed "$t" "$(now)")
  t=$(now)
  "$kiln" test --progress never --json "$work/$name.2.json" -- "$bin" >"$work/$name.2.out" 2>&1 || rc=$?
  second=$(elapsed "$t" "$(now)")
  cases=$(count_cases "$work/$name.xml")
  passed=$(json_get "d['summary']['passed']" "$work/$name.1.json")
  cached="$(json_get "d['summary']['cached']" "$work/$name.2.json")/$(json_get "d['summary']['total']" "$work/$name.2.json")"
  ok=1
  [ "$rc" -eq 0 ] && [ "$cases" -eq "$listed" ] && [ "$passed" -eq "$listed" ] &&
    [ "$cached" = "$listed/$listed" ] || ok=0
  [ "$ok" -eq 1 ] || all_ok=0
  total_first=$(awk -v a="$total_first" -v b="$first" 'BEGIN { print a + b }')
  total_second=$(awk -v a="$total_second" -v b="$second" 'BEGIN { print a + b }')
  printf "| %s | %d | %d | %d | %.2f s | %.2f s | %s%s |\n" "$name" "$listed" "$cases" "$passed" \
    "$first" "$second" "$cached" "$([ "$ok" -eq 1 ] || echo " FAILED (exit $rc)")"
done
t=$(now)
rc=0
"$kiln" test --progress never --ctest "$lv" -E '^db_test$' --junit "$work/ctest.xml" --json "$work/ctest.1.json" \
  >"$work/ctest.1.out" 2>&1 || rc=$?
first=$(elapsed "$t" "$(now)")
t=$(now)
"$kiln" test --progress never --ctest "$lv" -E '^db_test$' --json "$work/ctest.2.json" >"$work/ctest.2.out" 2>&1 || rc=$?
second=$(elapsed "$t" "$(now)")
listed=$(cd "$lv" && ctest -N -E '^db_test$' | sed -n 's/^Total Tests: //p')
cases=$(count_cases "$work/ctest.xml")
passed=$(json_get "d['summary']['passed']" "$work/ctest.1.json")
cached="$(json_get "d['summary']['cached']" "$work/ctest.2.json")/$(json_get "d['summary']['total']" "$work/ctest.2.json")"
ok=1
[ "$rc" -eq 0 ] && [ "$cases" -eq "$listed" ] && [ "$passed" -eq "$listed" ] && [ "$cached" = "$listed/$listed" ] || ok=0
[ "$ok" -eq 1 ] || all_ok=0
printf "| --ctest (all but db_test) | %d | %d | %d | %.2f s | %.2f s | %s%s |\n" "$listed" "$cases" "$passed" \
  "$first" "$second" "$cached" "$([ "$ok" -eq 1 ] || echo " FAILED (exit $rc)")"
printf "| GoogleTest binaries, summed | | | | %.2f s | %.2f s | |\n" "$total_first" "$total_second"
echo
if [ "$all_ok" -eq 1 ]; then
  echo "leveldb: every test passed, every JUnit file lists every case, every second run fully cached"
else
  echo "leveldb: NOT all good (see FAILED rows; outputs in $work are removed on exit)"
  exit 1
fi
