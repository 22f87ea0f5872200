#!/bin/sh
# LMDB store benchmark: put/get against plain files with the same
# durability, contains/find_missing rates, and inline-vs-file layout (the
# numbers behind StoreOptions::file_threshold). Builds nothing: build
# bench_store first, e.g.
#   cmake --build build --target bench_store && scripts/bench/store.sh build
#
# Usage: scripts/bench/store.sh [build-dir] [--quick] [--only put|lookup|layout]
# The store and the plain files go to a fresh directory under
# $KILN_BENCH_DIR (default: the repository's parent directory), which must
# be on a real disk: tmpfs would make fsync free and files as fast as memory.
# Other load on the machine skews both sides: the load average is printed.
set -eu

build_dir=${1:-build}
[ $# -gt 0 ] && shift
bench="$build_dir/bin/bench_store"
if [ ! -x "$bench" ]; then
  echo "store.sh: $bench not found; build the bench_store target first" >&2
  exit 1
fi

here=$(cd "$(dirname "$0")/../.." && pwd)
base=${KILN_BENCH_DIR:-$(dirname "$here")}
fstype=$(df --output=fstype "$base" | tail -n 1 | tr -d ' ')
if [ "$fstype" = tmpfs ]; then
  echo "store.sh: $base is on tmpfs; set KILN_BENCH_DIR to a directory on a disk" >&2
  exit 1
fi
work=$(mktemp -d "$base/kiln-bench-store.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

echo "directory: $work ($fstype); load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo
"$bench" "$work" "$@"
