#!/usr/bin/env bash
# Trust benchmarks (issue "Trust"): what CURVE and the sandbox cost.
#
#   cmake --build build --target bench_grid kiln kiln-scheduler kiln-worker
#   scripts/bench/trust.sh build            # REPEAT=3 by default
#   LEVELDB=0 scripts/bench/trust.sh build  # without the leveldb builds
#
# Measures, in one run:
#   - dispatch throughput (50 fake workers) and the trivial action's p50/p99
#     latency through the grid to a real worker, CURVE on every socket
#     against plain TCP, alternating rounds (bench_grid trust);
#   - the trivial action (`true`) through the executor in the bubblewrap
#     sandbox against the same executor running it straight, alternating
#     (bench_grid sandbox), as this user and, when run as root, also as
#     nobody (the user-namespace path an unprivileged worker takes);
#   - leveldb (Release, with its tests, ninja -j2) built through `kiln up
#     --workers 2` from empty caches, with CURVE and the sandbox on against
#     --no-auth and sandbox=none, alternating order (LEVELDB=0 skips it).
# Each measure is repeated REPEAT times; the table shows medians.
set -euo pipefail

build_dir=$(realpath "${1:-build}")
repeat=${REPEAT:-3}
here=$(cd "$(dirname "$0")/../.." && pwd)
bench="$build_dir/bin/bench_grid"
kiln="$build_dir/bin/kiln"
[ -x "$bench" ] || { echo "trust.sh: $bench not found; build bench_grid first" >&2; exit 1; }
work=$(mktemp -d "${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-trust.XXXXXX")
chmod 755 "$work"  # the as-nobody run reaches its copy below
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $repeat runs" >&2

results="$work/results"
: >"$results"
for r in $(seq 1 "$repeat"); do
  echo "run $r/$repeat: CURVE, sandbox" >&2
  "$bench" "$work/grid" trust >>"$results"
  "$bench" "$work/grid" sandbox >>"$results"
  if [ "$(id -u)" = 0 ]; then
    # The same as nobody: bwrap in a user namespace, no setpriv.
    mkdir -p "$work/as-user" && cp "$bench" "$work/as-user/bench_grid" && chown -R nobody: "$work/as-user"
    setpriv --reuid nobody --regid nogroup --clear-groups env HOME="$work/as-user" \
      "$work/as-user/bench_grid" "$work/as-user/run" sandbox | sed 's/^sandbox_/user_sandbox_/' >>"$results"
  fi
done

if [ "${LEVELDB:-1}" = 1 ]; then
  [ -x "$kiln" ] || { echo "trust.sh: $kiln not found" >&2; exit 1; }
  "$here/scripts/install-packages.sh" g++ cmake ninja-build python3 libgtest-dev libgmock-dev libbenchmark-dev
  src=${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb
  "$here/scripts/fetch-leveldb.sh" "$src"
  cmake_flags=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
    -DLEVELDB_BUILD_TESTS=ON -DLEVELDB_BUILD_BENCHMARKS=OFF
    -DCMAKE_C_COMPILER_LAUNCHER="$kiln" -DCMAKE_CXX_COMPILER_LAUNCHER="$kiln")
  # leveldb LABEL ENV...: a fresh grid (kiln up, with --no-auth when ENV
  # names scheduler_key none) and fresh caches, one timed build.
  leveldb() {
    local label=$1 up_dir="$work/up-$1" out t0 t1 up_args=()
    shift
    [[ " $* " == *" KILN_SCHEDULER_KEY=none "* ]] && up_args=(--no-auth)
    rm -rf "$up_dir" "$work/kiln-$label" "$work/build"
    mkdir -p "$up_dir"
    KILN_DIR="$up_dir" "$@" "$kiln" up --workers 2 --port 0 "${up_args[@]}" >"$up_dir/out" 2>"$up_dir/err" &
    local up=$!
    pids+=("$up")
    for _ in $(seq 1 300); do grep -q '^KILN_SCHEDULER=' "$up_dir/out" && break; sleep 0.05; done
    local sched
    sched=$(sed -n 's/^KILN_SCHEDULER=//p' "$up_dir/out")
    [ -n "$sched" ] || { cat "$up_dir/err" >&2; echo "trust.sh: kiln up printed no address" >&2; exit 1; }
    for _ in $(seq 1 200); do
      KILN_DIR="$up_dir" KILN_SCHEDULER=$sched "$@" "$kiln" status --json 2>/dev/null |
        python3 -c 'import json,sys; sys.exit(len(json.load(sys.stdin)["workers"]) != 2)' 2>/dev/null && break
      sleep 0.05
    done
    cmake -S "$src" -B "$work/build" "${cmake_flags[@]}" >"$work/configure.log" 2>&1 ||
      { tail "$work/configure.log" >&2; exit 1; }
    t0=$(date +%s.%N)
    env KILN_DIR="$work/kiln-$label" KILN_SCHEDULER="$sched" "$@" ninja -C "$work/build" -j 2 \
      >"$work/build.log" 2>&1 || { tail "$work/build.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    out=$(KILN_DIR="$work/kiln-$label" "$kiln" -s --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["hits"]["total"] + s["misses"]["total"], s["misses"]["remote"])' 2>/dev/null || echo "? ?")
    echo "leveldb_$label $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s" >>"$results"
    echo "  leveldb $label: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (compiles, remote: $out)" >&2
    kill -INT "$up"
    wait "$up" 2>/dev/null || true
  }
  on=(env)
  off=(env KILN_SANDBOX=none KILN_SCHEDULER_KEY=none)
  for r in $(seq 1 "$repeat"); do
    echo "run $r/$repeat: leveldb through kiln up" >&2
    if [ $((r % 2)) = 1 ]; then
      leveldb off "${off[@]}" ; leveldb on "${on[@]}"
    else
      leveldb on "${on[@]}" ; leveldb off "${off[@]}"
    fi
  done
fi

echo
awk '
  { gsub(/\t/, " "); v[$1] = v[$1] " " $2 }
  function median(name,   n, a, i, j, t) {
    n = split(v[name], a, " ")
    if (n == 0) return -1
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  function count(name,   a) { return split(v[name], a, " ") }
  END {
    print "| measure | with | without | ratio | goal |"
    print "|---|---:|---:|---:|---|"
    c = median("trust_dispatch_curve"); p = median("trust_dispatch_plain")
    printf "| dispatch, 50 workers (actions/s), CURVE vs plain | %.0f | %.0f | %.3fx time | <= 1.10x |\n", c, p, p / c
    c = median("trust_latency_curve_p50"); p = median("trust_latency_plain_p50")
    printf "| trivial action through the grid, p50, CURVE vs plain | %.0f us | %.0f us | %.3fx (+%.0f us) | <= 1.10x |\n", c, p, c / p, c - p
    c = median("trust_latency_curve_p99"); p = median("trust_latency_plain_p99")
    printf "| trivial action through the grid, p99, CURVE vs plain | %.0f us | %.0f us | %.3fx (+%.0f us) | <= 1.10x |\n", c, p, c / p, c - p
    b = median("sandbox_bwrap_p50"); n = median("sandbox_none_p50")
    printf "| executor, `true`, p50, bubblewrap vs none (this user) | %.0f us | %.0f us | +%.2f ms | <= +3 ms |\n", b, n, (b - n) / 1000
    b = median("sandbox_bwrap_p99"); n = median("sandbox_none_p99")
    printf "| executor, `true`, p99, bubblewrap vs none (this user) | %.0f us | %.0f us | +%.2f ms | |\n", b, n, (b - n) / 1000
    if (count("user_sandbox_bwrap_p50") > 0) {
      b = median("user_sandbox_bwrap_p50"); n = median("user_sandbox_none_p50")
      printf "| executor, `true`, p50, bubblewrap vs none (as nobody) | %.0f us | %.0f us | +%.2f ms | <= +3 ms |\n", b, n, (b - n) / 1000
    }
    if (count("leveldb_on") > 0) {
      a = median("leveldb_on"); b = median("leveldb_off")
      printf "| leveldb via kiln up, CURVE + sandbox vs neither | %.1f s | %.1f s | %.3fx | <= 1.05x |\n", a, b, a / b
    }
  }' "$results"
echo
echo "medians of $repeat runs; sandbox rows: one run = 200 alternating pairs; grid rows: 4 alternating rounds of 5,000 actions / 100 actions"
