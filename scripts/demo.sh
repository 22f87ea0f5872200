#!/usr/bin/env bash
# kiln's main job on its embedded default — no server to configure.
#
# Installs what kiln needs and builds it, then, in a private cache:
#  1. the store: stores two real source trees from this machine, stores
#     them again (nothing new is written), recreates them byte for byte;
#  2. kiln run on the embedded default: a real command (compressing a
#     source tree) as a cached action, cold then warm;
#  3. the grid: kiln up --workers 2 on loopback, the same kind of command
#     run on a worker, a rerun from an empty local cache that is a central
#     hit, and kiln status.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "== building kiln (out/demo)"
cmake -S . -B out/demo -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build out/demo --target kiln kiln-scheduler kiln-worker
kiln=$PWD/out/demo/bin/kiln

export KILN_DIR=$PWD/out/demo/cache
export KILN_CONFIG=$KILN_DIR/kiln.conf
rm -rf "$KILN_DIR" out/demo/checkout
mkdir -p "$KILN_DIR"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f s", b - a }'; }

for tree in /usr/share/cmake-[0-9]* /usr/include/c++; do
  [ -d "$tree" ] || continue
  files=$(find "$tree" -type f | wc -l)
  echo "== $tree ($files files, $(du -sh "$tree" | cut -f1))"
  t=$(now); root=$("$kiln" cas tree "$tree"); echo "   cold store:  $(elapsed "$t")  root $root"
  t=$(now); again=$("$kiln" cas tree "$tree" 2>&1 >/dev/null); echo "   warm store:  $(elapsed "$t")  ($again)"
  out=out/demo/checkout/$(basename "$tree")
  t=$(now); "$kiln" cas checkout "$root" "$out"; echo "   checkout:    $(elapsed "$t")"
  diff -r --no-dereference "$tree" "$out" >/dev/null && echo "   checkout is identical to the original"
done

echo "== kiln cas stats"
"$kiln" cas stats

# 2. Any command as a cached action, here.
work=out/demo/work
rm -rf "$work"; mkdir -p "$work"; cp -r /usr/include/c++ "$work/src"
cd "$work"
compress() { "$kiln" run -i src -o src.tar.xz -- tar -cJf src.tar.xz src; }
echo "== kiln run (embedded default): tar -cJf of $(du -sh src | cut -f1) of headers"
t=$(now); compress; echo "   cold:  $(elapsed "$t")  ($(du -h src.tar.xz | cut -f1) written)"
rm src.tar.xz
t=$(now); compress; echo "   warm:  $(elapsed "$t")  (a cache hit: tar did not run)"

# 3. A one-machine grid.
echo "== kiln up --workers 2"
"$kiln" up --workers 2 --port 0 >up.out 2>up.err &
up=$!
trap 'kill $up 2>/dev/null; wait $up 2>/dev/null' EXIT
for _ in $(seq 1 200); do grep -q KILN_SCHEDULER up.out 2>/dev/null && break; sleep 0.05; done
export "$(cat up.out)"
echo "   $KILN_SCHEDULER"
sleep 1
t=$(now); KILN_DIR=$PWD/client-a "$kiln" run -i src -o src.tar.gz -- tar -czf src.tar.gz src
echo "   on a worker:                     $(elapsed "$t")"
rm src.tar.gz
t=$(now); KILN_DIR=$PWD/client-b "$kiln" run -i src -o src.tar.gz -- tar -czf src.tar.gz src
echo "   another client, empty local cache: $(elapsed "$t")  (a central hit)"
"$kiln" status
kill -INT $up; wait $up 2>/dev/null || true
trap - EXIT
