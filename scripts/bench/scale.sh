#!/bin/sh
# The fleet at scale (issue "The fleet"): a real kiln-scheduler process and
# bench_fleet's fake workers and clients (20 clients, distinct actions),
# four runs per round:
#   s10, s100, s1000  10 x 100, 100 x 10 and 1,000 x 1 slots, executions of
#                     ~3 ms (log-normal): the scheduler is the bottleneck;
#                     throughput and CPU per action against 10 workers,
#                     scheduler RSS against the idle scheduler (the slope
#                     from 100 to 1,000 workers is the RSS per worker)
#   f1000             1,000 x 1 slot, executions of ~200 ms: the workers
#                     are the bottleneck, so the queue is the scheduler's
#                     and its round-robin decides the shares (fairness)
# Builds nothing: cmake --build build --target bench_fleet kiln-scheduler
#   && scripts/bench/scale.sh build
# REPEAT rounds (default 3), medians. Writes under $KILN_BENCH_DIR.
set -eu
build_dir=${1:-build}
repeat=${REPEAT:-3}
bench="$build_dir/bin/bench_fleet"
[ -x "$bench" ] || { echo "scale.sh: $bench not found; build bench_fleet first" >&2; exit 1; }
[ -x "$build_dir/bin/kiln-scheduler" ] || { echo "scale.sh: build kiln-scheduler first" >&2; exit 1; }
work=${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-scale.$$
trap 'rm -rf "$work"' EXIT

exec_sigma=0.5
fleet_ms=200
all=""
run() {  # NAME ARGS...
  name=$1
  shift
  out=$("$bench" "$work" --clients 20 --exec-sigma "$exec_sigma" "$@") ||
    { echo "scale.sh: bench_fleet $* failed" >&2; exit 1; }
  all="$all$(printf '%s\n' "$out" | sed "s/^/$name	/")
"
}
for i in $(seq 1 "$repeat"); do
  run s10 --workers 10 --slots 100 --actions 40000 --exec-ms 3
  run s100 --workers 100 --slots 10 --actions 40000 --exec-ms 3
  run s1000 --workers 1000 --slots 1 --actions 100000 --exec-ms 3
  run f1000 --workers 1000 --slots 1 --actions 100000 --exec-ms "$fleet_ms"
done

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); medians of $repeat runs; $(nproc) cores"
echo
printf '%s' "$all" | awk -F '\t' -v fleet_ms="$fleet_ms" -v sigma="$exec_sigma" '
  function median(key,   n, a, i, j, t) {
    n = split(v[key], a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  $2 == "client" { for (f = 4; f <= NF; f++) v[$1 "_client" $3 "_" f] = v[$1 "_client" $3 "_" f] " " $f; nc[$1] = $3 + 1; next }
  NF == 4 { v[$1 "_" $2] = v[$1 "_" $2] " " $3 }
  END {
    print "| measure | value | baseline | ratio |"
    print "|---|---:|---:|---:|"
    t10 = median("s10_throughput")
    split("10|100|1000", ws, "|"); split("10 x 100|100 x 10|1,000 x 1", ls, "|")
    for (k = 1; k <= 3; k++) {
      c = "s" ws[k]; t = median(c "_throughput")
      printf "| throughput, %s slots, ~3 ms actions | %.0f actions/s | %.0f actions/s (10 workers) | %.2fx |\n", ls[k], t, t10, t / t10
    }
    c10 = median("s10_cpu_per_1000")
    for (k = 1; k <= 3; k++) {
      c = "s" ws[k]; x = median(c "_cpu_per_1000")
      printf "| scheduler CPU per 1,000 actions, %s workers | %.1f ms | %.1f ms (10 workers) | %.2fx |\n", ws[k], x, c10, x / c10
    }
    for (k = 1; k <= 3; k++) {
      c = "s" ws[k]; x = median(c "_queue_p50"); y = median(c "_queue_p99")
      printf "| queue wait p50 / p99, %s workers | %.0f / %.0f ms | | |\n", ws[k], x, y
    }
    idle = median("s1000_rss_idle"); aidle = median("s1000_anon_idle")
    printf "| scheduler RSS idle (anon) | %.1f MiB (%.1f) | | |\n", idle / 1024, aidle / 1024
    for (k = 1; k <= 3; k++) {
      c = "s" ws[k]; r = median(c "_rss_workers"); a = median(c "_anon_workers"); i0 = median(c "_rss_idle")
      printf "| scheduler RSS, %s workers connected (anon) | %.1f MiB (%.1f) | %.1f MiB idle | %.2fx (+%.1f MiB) |\n", ws[k], r / 1024, a / 1024, i0 / 1024, r / i0, (r - i0) / 1024
    }
    r100 = median("s100_rss_workers"); r1000 = median("s1000_rss_workers")
    a100 = median("s100_anon_workers"); a1000 = median("s1000_anon_workers")
    printf "| **scheduler RSS per 1,000 workers** (slope 100 -> 1,000; anon) | **%.1f MiB** (%.1f) | | |\n", (r1000 - r100) / 900 * 1000 / 1024, (a1000 - a100) / 900 * 1000 / 1024
    printf "| scheduler RSS per 1,000 workers (1,000 workers - idle) | %.1f MiB | | |\n", (r1000 - idle) / 1024
    for (k = 1; k <= 2; k++) {
      c = (k == 1) ? "s1000" : "f1000"
      p = median(c "_rss_peak"); af = median(c "_rss_after"); w = median(c "_rss_workers"); n = median(c "_actions")
      printf "| scheduler RSS peak / after, %s, %d actions | %.1f / %.1f MiB | %.1f MiB before the load | %.2fx / %.2fx |\n", c, n, p / 1024, af / 1024, w / 1024, p / w, af / w
      p = median(c "_anon_peak"); af = median(c "_anon_after"); w = median(c "_anon_workers")
      printf "| (anon part: peak / after) | %.1f / %.1f MiB | %.1f MiB before the load | %.2fx / %.2fx |\n", p / 1024, af / 1024, w / 1024, p / w, af / w
    }
    # /proc counts CPU in 10 ms ticks: over 3 s, 10 workers read as 0.
    x = median("s1000_cpu_idle_workers"); y = median("s100_cpu_idle_workers")
    printf "| scheduler CPU, workers heartbeating, no load | %.0f ms/s (1,000 workers) | %.0f ms/s (100 workers) | %s |\n", x, y, (y > 0 ? sprintf("%.2fx", x / y) : "-")
    cap = 1000 / (fleet_ms * exp(sigma * sigma / 2) / 1000)
    t = median("f1000_throughput")
    printf "| f1000 throughput, ~%d ms actions | %.0f actions/s | %.0f actions/s (1,000 slots / mean time) | %.2fx |\n", fleet_ms, t, cap, t / cap
    printf "| f1000 queue wait p50 / p99 | %.0f / %.0f ms | | |\n", median("f1000_queue_p50"), median("f1000_queue_p99")
    for (k = 1; k <= 2; k++) {
      c = (k == 1) ? "f1000" : "s1000"
      printf "| %s Jain index per 0.5 s, clients active throughout: median / worst | %.3f / %.3f | 1.000 (equal shares) | |\n", c, median(c "_jain_bucket_median"), median(c "_jain_bucket_min")
    }
    printf "| workers dropped (all runs) | %d | 0 | |\n", median("s1000_workers_dropped") + median("f1000_workers_dropped")
    print ""
    print "f1000 per client (medians): share = completions over the mean of the clients active in the same 0.5 s, 1.00 = the equal share dispatch.h promises"
    print ""
    print "| client | actions | window | first submit (s) | last answer (s) | actions/s | share | queue p50 (ms) | queue p99 (ms) |"
    print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 0; i < nc["f1000"]; i++) {
      b = "f1000_client" i "_"
      printf "| %d | %d | %d | %.2f | %.2f | %.0f | %.2f | %.0f | %.0f |\n", i, median(b 4), median(b 5), median(b 6), median(b 7), median(b 8), median(b 9), median(b 10), median(b 11)
    }
  }'
