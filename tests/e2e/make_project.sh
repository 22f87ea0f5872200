#!/usr/bin/env bash
# The compiler launcher in a plain Makefile project: Debian's bzip2 1.0.8
# (upstream Makefile with Debian's patches: libbz2.a, libbz2.so from -fPIC
# objects named *.sho, bzip2, bzip2recover; -O2 -g; `make` ends by running
# its own test, which compresses and decompresses the sample files and
# cmp's them against the references), built with `make -j2` and
# CC="$KILN gcc":
#   (a) plain gcc (the reference),
#   (b) kiln cold: every compile and every link (CC also links) a miss,
#   (c) kiln warm: every compile and every link a hit.
# Every build happens at the same path (a fresh copy of the tree, moved
# aside afterwards) since -g records the working directory; the objects
# (.o, .sho), libbz2.a and libbz2.so.* of (b) and (c) must be byte for byte
# those of (a), and the project's test must pass in each.
#
# The source is fetched once with apt-get source into
# ${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/bzip2 (scripts/fetch-leveldb.sh).
source "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
KILN=$(realpath "$KILN")
jobs=2

"$root/scripts/install-packages.sh" gcc make python3

cache=${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}
mkdir -p "$cache"
flock "$cache/.bzip2.lock" "$root/scripts/fetch-leveldb.sh" "$cache/bzip2" bzip2 ||
  fail "could not fetch bzip2's source"

export KILN_LOGFILE=$WORK/kiln.log
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
summary=()
tree=$WORK/tree

# build STEP [MAKE ARGS...]: a fresh copy of the tree at $tree, `make -jN`,
# the tree then moved to $WORK/STEP. Sets BUILD_S.
build() {
  local step=$1 t
  shift
  rm -rf "$tree"
  cp -a "$cache/bzip2" "$tree"
  t=$(now)
  make -C "$tree" -j "$jobs" "$@" >"$WORK/$step.log" 2>&1 || fail "$step: make failed: $(tail -30 "$WORK/$step.log")"
  BUILD_S=$(since "$t")
  grep -q "like you're in business" "$WORK/$step.log" || fail "$step: bzip2's test did not pass: $(tail -20 "$WORK/$step.log")"
  mv "$tree" "$WORK/$step"
}

outputs() { (cd "$1" && find . \( -name '*.o' -o -name '*.sho' -o -name '*.a' -o -name '*.so*' \) -type f | sort); }

# same_outputs STEP: every object and library of the plain build, byte for byte.
same_outputs() {
  local n=0 f
  while IFS= read -r f; do
    [ -f "$WORK/$1/$f" ] || fail "$1: $f is missing (it is in the plain build)"
    cmp -s "$WORK/plain/$f" "$WORK/$1/$f" || fail "$1: $f differs from the plain build's"
    n=$((n + 1))
  done < <(outputs "$WORK/plain")
  OUTPUTS=$n
}

# check_stats STEP RULE COMPILES LINKS: RULE cold or warm (every compile a hit).
check_stats() {
  "$KILN" -s --json >"$WORK/stats.json" 2>"$WORK/stats.err" || fail "$1: kiln -s --json failed: $(cat "$WORK/stats.err")"
  STATS=$(python3 - "$WORK/stats.json" "$2" "$3" "$4" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
rule, n, links = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h, m = s["hits"], s["misses"]
l = s["links"]
line = "hits %d (direct %d, preprocessed %d), misses %d, uncacheable %s, links %d hits %d misses" % (
    h["total"], h["direct"], h["preprocessed"], m["total"], s["uncacheable"] or 0, l["hits"], l["misses"])
problems = []
if h["total"] + m["total"] != n:
    problems.append("hits + misses != %d compiles" % n)
if s["uncacheable_total"]:
    problems.append("expected nothing uncacheable")
if l["hits"] + l["misses"] != links:
    problems.append("expected the %d links cached" % links)
if rule == "warm" and l["hits"] != links:
    problems.append("expected %d link hits" % links)
if s["errors"] or s["compile_failed"]:
    problems.append("errors/failed compiles")
if rule == "warm" and h["total"] != n:
    problems.append("expected %d hits" % n)
print(line + ("" if not problems else "  PROBLEM: " + "; ".join(problems)))
sys.exit(1 if problems else 0)
EOF
  ) || fail "$1: launcher stats: $STATS"
}

# (a) plain gcc. make echoes each command: the compiles have -c, the links not.
build plain
n=$(grep -cE '^gcc .* -c ' "$WORK/plain.log" || true)
links=$(grep -E '^gcc ' "$WORK/plain.log" | grep -vcE ' -c ' || true)
[ "$n" -ge 16 ] || fail "expected at least 16 compiles in the plain build, found $n: $(cat "$WORK/plain.log")"
summary+=("$(printf '%-16s %6s s  %s' "(a) plain" "$BUILD_S" "$n compiles, $links links; test passed")")

for step in cold warm; do
  label="(b) kiln cold"
  if [ "$step" = warm ]; then label="(c) kiln warm"; else rm -rf "$KILN_DIR"; fi
  "$KILN" -z >/dev/null || fail "kiln -z failed"
  build "$step" CC="$KILN gcc"
  check_stats "$step" "$step" "$n" "$links"
  same_outputs "$step"
  summary+=("$(printf '%-16s %6s s  %s' "$label" "$BUILD_S" "$OUTPUTS outputs identical; test passed; $STATS")")
done

echo "bzip2 1.0.8 (Debian), make -j$jobs CC=\"kiln gcc\":"
printf '  %s\n' "${summary[@]}"
echo "make_project: all scenarios passed"
