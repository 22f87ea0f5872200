#!/usr/bin/env bash
# What a lost scheduler costs a build (issue "The fleet"): leveldb 1.23
# (Release, with its tests, ninja -j2) through the launcher against a
# kiln-scheduler and two kiln-workers on 127.0.0.1, from empty caches each
# time, in three scenarios:
#
#   steady    no fault: the baseline
#   restart   the scheduler killed -9 when ~30 % of the compiles are done,
#             and started again on the same port 1 s later
#   outage    the same, but the scheduler stays down 20 s (longer than
#             remote_timeout, 10 s): compiles fall back to this machine
#
# For each: the build's wall time and its ratio to steady; compiles done
# remotely and locally; the longest gap between two finished compiles (a
# stall); and for the faults, "resume": from the restart to the first
# compile the grid finished after it (from KILN_LOGFILE's timestamps; a
# kiln older than those prints no stall or resume).
#
#   cmake --build build --target kiln kiln-grid kiln-scheduler kiln-worker kiln-run-as
#   scripts/bench/faults.sh build            # REPEAT=N for medians of N runs
#   BASELINE_BIN=/other/build/bin scripts/bench/faults.sh build   # before/after
set -euo pipefail

build_dir=$(realpath "${1:-build}")
repeat=${REPEAT:-1}
here=$(cd "$(dirname "$0")/../.." && pwd)
"$here/scripts/install-packages.sh" g++ cmake ninja-build python3 libgtest-dev libgmock-dev libbenchmark-dev
src=${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb
"$here/scripts/fetch-leveldb.sh" "$src"

work=$(mktemp -d "${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-faults.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }

# run BIN LABEL SCENARIO: one build; appends "LABEL SCENARIO key value" lines
# to $work/results.
run() {
  local bin=$1 label=$2 scenario=$3 w="$work/run"
  rm -rf "$w"
  mkdir -p "$w/keys"
  local n
  for n in scheduler worker client; do
    "$bin/kiln" keygen -o "$w/keys/$n" --comment "$n" >/dev/null 2>&1
  done
  {
    echo "worker $(sed -n 's/^public = //p' "$w/keys/worker.pub") w"
    echo "client $(sed -n 's/^public = //p' "$w/keys/client.pub") c"
  } >"$w/keys/authorized_keys"
  local cport wport sched
  cport=$(free_port)
  wport=$(free_port)
  start_scheduler() {
    "$bin/kiln-scheduler" --client-endpoint "tcp://127.0.0.1:$cport" \
      --worker-endpoint "tcp://127.0.0.1:$wport" --store "$w/central" --key "$w/keys/scheduler.key" \
      --authorized-keys "$w/keys/authorized_keys" >>"$w/scheduler.log" 2>&1 &
    sched=$!
    pids+=("$sched")
  }
  start_scheduler
  for n in 1 2; do
    "$bin/kiln-worker" --scheduler "tcp://127.0.0.1:$wport" --id "w$n" --slots 1 \
      --store "$w/w$n" --key "$w/keys/worker.key" --scheduler-key "$w/keys/scheduler.pub" \
      >>"$w/w$n.log" 2>&1 &
    pids+=($!)
  done
  export KILN_SCHEDULER=tcp://127.0.0.1:$cport KILN_SCHEDULER_KEY=$w/keys/scheduler.pub \
    KILN_CLIENT_KEY=$w/keys/client.key KILN_DIR=$w/cache KILN_LOGFILE=$w/kiln.log
  for _ in $(seq 1 200); do
    "$bin/kiln" status --json 2>/dev/null |
      python3 -c 'import json,sys; sys.exit(len(json.load(sys.stdin)["workers"]) != 2)' 2>/dev/null && break
    sleep 0.05
  done
  cmake -S "$src" -B "$w/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
    -DCMAKE_CXX_COMPILER=g++ -DLEVELDB_BUILD_TESTS=ON -DLEVELDB_BUILD_BENCHMARKS=OFF \
    -DCMAKE_C_COMPILER_LAUNCHER="$bin/kiln" -DCMAKE_CXX_COMPILER_LAUNCHER="$bin/kiln" \
    >"$w/configure.log" 2>&1 || { tail "$w/configure.log" >&2; exit 1; }
  local t0 t_kill="" t_back="" compiles
  compiles=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' \
    "$w/build/compile_commands.json" 2>/dev/null || echo 100)
  t0=$(now)
  ninja -C "$w/build" -j 2 >"$w/ninja.log" 2>&1 &
  local build=$!
  if [ "$scenario" != steady ]; then
    # Wait for ~30 % of the compiles, then kill -9 the scheduler.
    while [ "$(cat "$w/kiln.log" 2>/dev/null | wc -l)" -lt $((compiles * 3 / 10)) ]; do
      kill -0 "$build" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$sched"
    t_kill=$(now)
    sleep "$([ "$scenario" = restart ] && echo 1 || echo 20)"
    start_scheduler
    t_back=$(now)
  fi
  wait "$build" || { tail -20 "$w/ninja.log" >&2; echo "faults.sh: the build failed" >&2; exit 1; }
  local t1
  t1=$(now)
  KILN_DIR=$w/cache "$bin/kiln" -s --json >"$w/stats.json"
  python3 - "$w" "$label" "$scenario" "$t0" "$t1" "${t_kill:-0}" "${t_back:-0}" >>"$work/results" <<'EOF'
import datetime, json, sys
w, label, scenario, t0, t1, t_kill, t_back = sys.argv[1], sys.argv[2], sys.argv[3], *map(float, sys.argv[4:])
stats = json.load(open(w + "/stats.json"))
done = []  # (time, outcome) of each finished compile
for line in open(w + "/kiln.log"):
    stamp, _, rest = line.partition(" ")
    try:
        t = datetime.datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        continue
    done.append((t, rest.rsplit(": ", 1)[-1].strip()))
done.sort()
times = [t0] + [t for t, _ in done] + [t1]
gap = max(b - a for a, b in zip(times, times[1:]))
out = {"wall": t1 - t0, "remote": stats["misses"]["remote"], "local": stats["misses"]["local"],
       "fallback": stats["misses"]["remote_fallback"], "gap": gap}
if t_back:
    after = [t for t, o in done if t > t_back and o in ("miss_remote", "miss_remote_headers", "remote_hit")]
    out["resume"] = (after[0] - t_back) if after else -1
for k, v in out.items():
    print(label, scenario, k, v)
EOF
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  echo "  $label $scenario: $(grep "^$label $scenario " "$work/results" | tail -6 | awk '{printf "%s=%s ", $3, $4}')" >&2
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $repeat run(s)" >&2
: >"$work/results"
for r in $(seq 1 "$repeat"); do
  echo "run $r/$repeat" >&2
  for scenario in steady restart outage; do
    run "$build_dir/bin" this "$scenario"
    [ -n "${BASELINE_BIN:-}" ] && run "$(realpath "$BASELINE_BIN")" baseline "$scenario"
  done
done

echo
awk '
  { v[$1 " " $2 " " $3] = v[$1 " " $2 " " $3] " " $4; labels[$1] = 1 }
  function median(key,   n, a, i, j, t) {
    n = split(v[key], a, " ")
    if (n == 0) return -1
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  END {
    print "| build | scenario | wall | vs steady | remote / local / fallback | longest stall | resume after restart |"
    print "|---|---|---:|---:|---|---:|---:|"
    split("this baseline", order, " ")
    for (o = 1; o <= 2; o++) {
      l = order[o]; if (!(l in labels)) continue
      base = median(l " steady wall")
      split("steady restart outage", sc, " ")
      for (s = 1; s <= 3; s++) {
        k = l " " sc[s]
        resume = (sc[s] == "steady") ? "" : sprintf("%.1f s", median(k " resume"))
        printf "| %s | %s | %.1f s | %.2fx | %d / %d / %d | %.1f s | %s |\n", l, sc[s], median(k " wall"),
          median(k " wall") / base, median(k " remote"), median(k " local"), median(k " fallback"),
          median(k " gap"), resume
      }
    }
  }' "$work/results"
echo
echo "medians of $repeat run(s); remote_timeout 10 s; the outage keeps the scheduler down 20 s"
