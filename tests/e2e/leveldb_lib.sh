# Helpers for end-to-end scenarios that build Debian's leveldb 1.23 (sourced
# after lib.sh): its source, its distinct compiles, and the byte-for-byte
# comparison of a build with a reference build.

# now, since START: wall-clock seconds, and those since START (one decimal).
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# fetch_leveldb: prints the directory holding leveldb's source (fetched once
# with apt-get source into ${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/leveldb).
fetch_leveldb() {
  local root cache
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  cache=${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}
  mkdir -p "$cache"
  flock "$cache/.leveldb.lock" "$root/scripts/fetch-leveldb.sh" "$cache/leveldb" >&2 ||
    fail "could not fetch leveldb's source"
  echo "$cache"
}

# distinct_compiles BUILD_DIR: how many distinct compiles the build has (the
# same source with the same flags, e.g. util/testutil.cc in every test
# target, is one cache entry): commands without -o/-MF/-MT.
distinct_compiles() {
  python3 - "$1/compile_commands.json" <<'EOF'
import json, shlex, sys
keys = set()
for e in json.load(open(sys.argv[1])):
    args, out, skip = shlex.split(e["command"]), [], False
    for a in args:
        if skip: skip = False; continue
        if a in ("-o", "-MF", "-MT", "-MQ"): skip = True; continue
        out.append(a)
    keys.add(tuple(out))
print(len(keys))
EOF
}

# same_outputs REFERENCE DIR: every .o/.a/.so and linked program of the
# REFERENCE build exists in DIR, byte for byte; sets OUTPUTS to the count.
same_outputs() {
  local ref=$1
  shift
  local n=0 f
  while IFS= read -r f; do
    [ -f "$1/$f" ] || fail "$1/$f is missing (it is in the reference build $ref)"
    cmp -s "$ref/$f" "$1/$f" || fail "$1/$f differs from the reference build's (cmp $ref/$f $1/$f)"
    n=$((n + 1))
  done < <(cd "$ref" && {
    find . \( -name '*.o' -o -name '*.a' -o -name '*.so*' \) -type f
    find . -maxdepth 1 -type f -perm -u+x # the linked test programs
  } | sort)
  [ "$n" -gt 0 ] || fail "the reference build $ref produced no objects"
  OUTPUTS=$n
}
