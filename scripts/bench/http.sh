#!/bin/sh
# HTTP benchmark (issues "Metrics" and "Insight"): what the scheduler's
# HTTP endpoint costs dispatch. bench_grid http runs dispatch (20,000
# distinct no-op actions of one invocation, tagged as kiln's clients tag
# them, 50 fake workers) with --http-endpoint on — so the scheduler records
# the invocation for its pages — and polled every 100 ms (a fresh
# connection each; /metrics, the status page, /invocations and the
# invocation's own page in turn) against HTTP off, in 6 alternating pairs;
# the ratio is the median of the pairs' time ratios (NOSCRAPE=1: HTTP on
# and recording, but never polled).
# Builds nothing: cmake --build build --target bench_grid && scripts/bench/http.sh build
#
# Runs it REPEAT times (default 3) and prints medians.
set -eu
build_dir=${1:-build}
repeat=${REPEAT:-3}
bench="$build_dir/bin/bench_grid"
[ -x "$bench" ] || { echo "http.sh: $bench not found; build bench_grid first" >&2; exit 1; }
work=${KILN_BENCH_DIR:-/var/tmp}/kiln-bench-http.$$
trap 'rm -rf "$work"' EXIT

all=""
for _ in $(seq 1 "$repeat"); do all="$all$("$bench" "$work" http)
"; done

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; medians of $repeat runs"
echo
what="pages and /metrics polled every 100 ms"
[ -n "${NOSCRAPE:-}" ] && what="HTTP on, never scraped (NOSCRAPE)"
printf '%s' "$all" | awk -F '\t' -v what="$what" '
  NF == 3 { v[$1] = v[$1] " " $2 }
  function median(name,   n, a, i, j, t) {
    n = split(v[name], a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  END {
    on = median("http_dispatch_on"); off = median("http_dispatch_off")
    print "| measure | with | without | ratio | goal |"
    print "|---|---:|---:|---:|---|"
    printf "| dispatch, 50 workers (actions/s), %s vs HTTP off | %.0f | %.0f | %.3fx time | <= 1.05x |\n", what, on, off, median("http_time_ratio")
    printf "| polls answered per second while dispatching | %.1f | | | 10 |\n", median("http_scrapes_per_s")
  }'
