#!/usr/bin/env bash
# Shared CI knowledge (docs/testing.md): how close a *fresh* CI runner's
# `kiln test` gets to the ideal makespan when the durations it plans with
# come from the scheduler, against the blind plan a fresh runner made
# before (every test estimated alike; the issue measured 1.37-1.54x).
#
#   scripts/bench/fresh_runner.sh [BUILD_DIR]    # default: the repo's out/dev
#   REPEAT=1 scripts/bench/fresh_runner.sh       # quicker
#
# One kiln-scheduler (plain TCP on loopback, a new store for each round
# and N) and one kiln-worker with 8 slots on 127.0.0.1. Each round and N:
#   first runner    an empty KILN_DIR, the scheduler knows nothing: the
#                   blind plan; it records the durations on the scheduler
#   fresh runner    another empty KILN_DIR: plans from the scheduler's book
# both `kiln test --no-cache --shards N -j N` on the skewed fixture suite
# (40 sleeping tests, tests/fixtures/skewed_durations.inc). Measured
# against the ideal max(longest test, total / N) from that file:
#   by tests   the longest shard by the tests' own times (GoogleTest's, of
#              their sleeps): the plan's quality, which load barely moves
#   wall       the longest shard's wall time: plus staging, sandbox, grid
# Prints medians over REPEAT (default 3) rounds. About 2 minutes.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$(realpath -m "${1:-$here/out/dev}")
repeat=${REPEAT:-3}
bin=$build_dir/bin
suite=$bin/fixture_skewed_suite
case "$repeat" in '' | *[!0-9]* | 0) echo "fresh_runner.sh: REPEAT must be a positive integer" >&2; exit 2 ;; esac
fail() { echo "fresh_runner.sh: $*" >&2; exit 1; }

ninja -C "$build_dir" kiln kiln-scheduler kiln-worker fixture_skewed_suite >/dev/null ||
  fail "building in $build_dir failed"
work=$(mktemp -d "${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-fresh.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r total_ms longest_ms < <(awk '
  /^[[:space:]]*\/\// { next }
  { n = split($0, f, ","); for (i = 1; i <= n; i++) if (f[i] ~ /[0-9]/) { v = f[i] + 0; t += v; if (v > m) m = v } }
  END { print t + 0, m + 0 }' "$here/tests/fixtures/skewed_durations.inc")

# start_grid ROUND: a scheduler with an empty store and one worker; sets
# ENDPOINT and the pids to stop.
start_grid() {
  local ready=$work/ready.$1
  "$bin/kiln-scheduler" --no-auth --client-endpoint tcp://127.0.0.1:0 --worker-endpoint \
    tcp://127.0.0.1:0 --store "$work/central.$1" --ready-file "$ready" >"$work/scheduler.$1.log" 2>&1 &
  SCHED=$!
  for _ in $(seq 1 250); do [ -f "$ready" ] && [ "$(wc -l <"$ready")" -ge 2 ] && break; sleep 0.02; done
  ENDPOINT=$(sed -n 1p "$ready")
  [ -n "$ENDPOINT" ] || fail "kiln-scheduler did not start: $(tail -3 "$work/scheduler.$1.log")"
  "$bin/kiln-worker" --scheduler "$(sed -n 2p "$ready")" --no-auth --id w --slots 8 \
    --store "$work/worker.$1/store" --work-dir "$work/worker.$1/work" >"$work/worker.$1.log" 2>&1 &
  WORKER=$!
  pids+=("$SCHED" "$WORKER")
  for _ in $(seq 1 250); do
    KILN_SCHEDULER=$ENDPOINT KILN_SCHEDULER_KEY=none "$bin/kiln" status --json 2>/dev/null |
      python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["workers"] else 1)' && return 0
    sleep 0.05
  done
  fail "the worker did not join: $(tail -3 "$work/worker.$1.log")"
}

# measure NAME N: kiln test from an empty KILN_DIR; prints "by_tests wall" (ms).
measure() {
  local json=$work/$1.json
  KILN_DIR=$work/$1.dir KILN_SCHEDULER=$ENDPOINT KILN_SCHEDULER_KEY=none "$bin/kiln" test \
    --progress never --no-cache --shards "$2" -j "$2" --json "$json" -- "$suite" >"$work/$1.log" 2>&1 ||
    fail "kiln test ($1) failed: $(tail -5 "$work/$1.log")"
  python3 - "$json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
times = {t["id"]: t["time_ms"] for t in d["tests"]}
shards = d["run"]["shards"]
by_tests = max(sum(times[i] for i in s["test_ids"]) for s in shards)
print(by_tests, max(s["wall_ms"] for s in shards))
PY
}

declare -A values
for round in $(seq 1 "$repeat"); do
  for n in 4 8; do
    # A new scheduler store for each: the first runner must find no book.
    start_grid "$round.$n"
    read -r bt bw < <(measure "first.$round.$n" "$n")
    read -r ft fw < <(measure "fresh.$round.$n" "$n")
    values[first_tests.$n]+=" $bt"; values[first_wall.$n]+=" $bw"
    values[fresh_tests.$n]+=" $ft"; values[fresh_wall.$n]+=" $fw"
    echo "round $round N=$n: first runner $bt ms by tests ($bw wall), fresh runner $ft ms ($fw wall)" >&2
    kill "$SCHED" "$WORKER"
    wait "$SCHED" "$WORKER" 2>/dev/null || true
  done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '\nfresh CI runner: kiln test makespan against the ideal max(longest, total/N), medians of %s\n' "$repeat"
printf '%-4s %-9s %-26s %-26s\n' N ideal "first runner (blind)" "fresh runner (shared)"
printf '%-4s %-9s %-12s %-13s %-12s %-13s\n' "" "ms" "by tests" wall "by tests" wall
for n in 4 8; do
  ideal=$(awk -v t="$total_ms" -v m="$longest_ms" -v n="$n" 'BEGIN { i = t / n; if (m > i) i = m; printf "%d", i }')
  row=$(printf '%-4s %-9s' "$n" "$ideal")
  for k in first_tests first_wall fresh_tests fresh_wall; do
    med=$(median "${values[$k.$n]}")
    row+=$(awk -v v="$med" -v i="$ideal" 'BEGIN { printf " %-12s", sprintf("%.2fx", v / i) }')
  done
  echo "$row"
done
echo "(goal: the fresh runner by tests <= 1.10x)"
