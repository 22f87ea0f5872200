#!/usr/bin/env bash
# kiln's main job on its embedded default — no server to configure.
#
# At this stage of the project kiln's main job is its content-addressable
# store: this script installs what kiln needs, builds it, then stores two
# real source trees from this machine in a private local store, stores them
# again (everything is already there: nothing is written), recreates them
# from the store byte for byte, and shows the store's statistics.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "== building kiln (out/demo)"
cmake -S . -B out/demo -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build out/demo --target kiln
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
