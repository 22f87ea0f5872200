#!/bin/sh
# Digest throughput: kiln's digest_of against memcpy (same process) and
# against `xxhsum -b -H2` (the reference XXH128 implementation, same machine,
# same run). Builds nothing: build bench_digest first, e.g.
#   cmake --build build --target bench_digest && scripts/bench/digest.sh build
#
# Prints a markdown table. MB is 2^20 bytes, as xxhsum prints it. xxhsum -b
# hashes a 100 KB buffer, so only the 100 KiB xxh3-128 row is like for like;
# the goal is >= 0.9x xxhsum there. The 64 MiB rows measure memory bandwidth.
# Other load on the machine skews both sides: the load average is printed.
set -eu

build_dir=${1:-build}
bench="$build_dir/bin/bench_digest"
if [ ! -x "$bench" ]; then
  echo "digest.sh: $bench not found; build the bench_digest target first" >&2
  exit 1
fi
command -v xxhsum >/dev/null || { echo "digest.sh: xxhsum not installed (apt install xxhash)" >&2; exit 1; }

results=$("$bench")
# xxhsum redraws its progress line with carriage returns: split on them and
# keep the final XXH128 line (aligned case, id 11), "... (41522.1 MB/s)".
xxh128=$(xxhsum -b -H2 2>&1 | tr '\r' '\n' | grep '#XXH128 ' | tail -n 1 |
  sed -E 's/.*\(([0-9.]+) MB\/s\).*/\1/')
case $xxh128 in
  '' | *[!0-9.]*) echo "digest.sh: could not read XXH128 MB/s from xxhsum -b" >&2; exit 1 ;;
esac

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); xxhsum -b -H2 XXH128: $xxh128 MB/s"
echo
printf '%s\n' "$results" | awk -F '\t' -v xxh="$xxh128" '
  { name[NR] = $1; size[NR] = $2; med[NR] = $3; best[NR] = $4
    if ($1 == "memcpy") memcpy[$2] = $3 }
  END {
    print "| case | MB/s (median) | MB/s (best) | vs memcpy | vs xxhsum XXH128 |"
    print "|---|---:|---:|---:|---:|"
    for (i = 1; i <= NR; i++)
      printf "| %s %s | %.0f | %.0f | %.2fx | %.2fx |\n", name[i], size[i], med[i], best[i],
             med[i] / memcpy[size[i]], med[i] / xxh
    print ""
    for (i = 1; i <= NR; i++)
      if (name[i] == "xxh3-128" && size[i] == "100 KiB") {
        r = med[i] / xxh
        printf "goal: xxh3-128 100 KiB >= 0.9x xxhsum: %.2fx, %s\n", r, (r >= 0.9 ? "met" : "NOT met")
      }
  }'
