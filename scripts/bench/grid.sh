#!/bin/sh
# Grid benchmarks (issue "The grid"): dispatch throughput with 2, 50 and 500
# connected workers, 1,000 workers held with heartbeats, the added latency
# of one trivial action through the grid, and a 256 MiB tree through the
# scheduler's store, each against a baseline measured in the same run.
# Builds nothing: cmake --build build --target bench_grid && scripts/bench/grid.sh build
#
# Runs the whole benchmark REPEAT times (default 3) and prints medians.
set -eu
build_dir=${1:-build}
repeat=${REPEAT:-3}
bench="$build_dir/bin/bench_grid"
[ -x "$bench" ] || { echo "grid.sh: $bench not found; build bench_grid first" >&2; exit 1; }
work=${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-grid.$$
trap 'rm -rf "$work"' EXIT

all=""
for i in $(seq 1 "$repeat"); do all="$all$("$bench" "$work")
"; done

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); medians of $repeat runs"
echo
printf '%s' "$all" | awk -F '\t' '
  NF == 3 { v[$1] = v[$1] " " $2 }
  function median(name,   n, a, i, j, t) {
    n = split(v[name], a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  END {
    print "| measure | value | baseline | ratio | goal |"
    print "|---|---:|---:|---:|---|"
    for (w = 0; w < 3; w++) {
      split("2 50 500", ws, " "); n = ws[w + 1]
      d = median("dispatch_" n)
      printf "| dispatch, %s workers | %.0f actions/s | 10000 actions/s (goal) | %.2fx | >= 1x |\n", n, d, d / 10000
    }
    h = median("hold_1000")
    printf "| workers held after 5 s of heartbeats | %d | 1000 connected | %.2fx | 1.00x |\n", h, h / 1000
    g50 = median("latency_grid_p50"); l50 = median("latency_local_p50"); s50 = median("latency_spawn_p50")
    g99 = median("latency_grid_p99"); l99 = median("latency_local_p99")
    printf "| trivial action p50, grid | %.0f us | %.0f us local executor | %.2fx (+%.0f us) | added <= 1000 us |\n", g50, l50, g50 / l50, g50 - l50
    printf "| trivial action p99, grid | %.0f us | %.0f us local executor | %.2fx (+%.0f us) | |\n", g99, l99, g99 / l99, g99 - l99
    printf "| (local executor p50 vs bare posix_spawn) | %.0f us | %.0f us | %.2fx | |\n", l50, s50, l50 / s50
    mib = median("transfer_mib"); cp = median("transfer_cp_s"); up = median("transfer_upload_s"); dn = median("transfer_fetch_checkout_s")
    printf "| %d MiB tree upload to the scheduler | %.0f MiB/s | %.0f MiB/s cp -r | %.2fx | |\n", mib, mib / up, mib / cp, cp / up
    printf "| %d MiB tree fetch + checkout | %.0f MiB/s | %.0f MiB/s cp -r | %.2fx | |\n", mib, mib / dn, mib / cp, cp / dn
  }'
