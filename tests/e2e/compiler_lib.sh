# shellcheck shell=bash
# Helpers for the compiler launcher's scenarios (tests/e2e/compiler*.sh),
# sourced after lib.sh. The central helper is `kc`: run one compile through
# kiln, then the same command with the plain compiler in the same place, and
# demand identical exit code, stdout, stderr and output files, plus the
# expected change in kiln's statistics.

# The statistics counters kc compares (dotted paths into `kiln -s --json`).
KC_COUNTERS="hits.direct hits.preprocessed hits.remote hits.total misses.local misses.remote
misses.remote_fallback misses.total uncacheable_total compile_failed errors"

# python3 for JSON; the system one directly (a pyenv shim costs 0.2 s a call).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# How kiln is invoked in front of the compiler command; a scenario may
# replace it (e.g. with `env PATH=<masquerade dir>:$PATH` for symlinks).
LAUNCH=("$KILN")

# stat NAME: one value of `kiln -s --json` (dotted path, e.g. hits.direct).
stat() {
  local json
  json=$("$KILN" -s --json) || fail "kiln -s --json failed"
  "$PY" -c '
import json, sys
v = json.loads(sys.argv[1])
for part in sys.argv[2].split("."):
    v = v[part]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$json" "$1" ||
    fail "stat $1: not in kiln -s --json: $json"
}

# setup NAME: a fresh scenario directory $S with a source dir ($S/src, the
# current directory afterwards), a fresh cache ($KILN_DIR=$S/cache) and a
# scratch dir $T for kc's captures.
setup() {
  S="$WORK/$1"
  T="$S/.kc"
  mkdir -p "$S/src" "$T"
  export KILN_DIR="$S/cache"
  unset KILN_BASEDIR KILN_DISABLE KILN_RECACHE KILN_READONLY KILN_MAXSIZE KILN_LOGFILE CPATH
  cd "$S/src"
}

# backdate [FILE...]: sets the mtime of FILEs (default: every file under $S
# but the caches and $T) 100 s into the past. Like ccache, kiln does not
# record a dependency modified within the last second in a manifest (it may
# still be changing), so scenarios that expect a direct hit right after
# writing their files backdate them first.
backdate() {
  local when
  when="@$(($(date +%s) - 100))"
  if [ $# -gt 0 ]; then
    touch -d "$when" -- "$@"
  else
    find "$S" \( -path "$S/cache*" -o -path "$T" \) -prune -o -type f -exec touch -d "$when" {} +
  fi
}

# snap FILE: kiln's statistics now, as JSON.
snap() {
  "$KILN" -s --json >"$1" 2>"$T/snap.err" ||
    fail "kiln -s --json failed: $(cat "$T/snap.err")"
}

# check_delta BEFORE AFTER SPEC: SPEC is a kind, optionally followed by
# overrides "counter=N" or "counter?" (don't care). Kinds:
#   miss direct hit(direct or preprocessed) anyhit(incl. remote) any(hit or
#   miss) uncacheable failed none remote_miss remote_hit fallback anything
check_delta() {
  "$PY" - "$1" "$2" "$3" "$KC_COUNTERS" <<'EOF'
import json, os, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
spec = sys.argv[3].split()
keys = sys.argv[4].split()
def get(d, k):
    for p in k.split("."):
        d = d[p]
    return d
try:
    delta = {k: get(after, k) - get(before, k) for k in keys}
except (KeyError, TypeError) as e:
    sys.exit("kiln -s --json lacks counter %s: %s" % (e, json.dumps(after)))
want = {k: 0 for k in keys}
H = ["hits.direct", "hits.preprocessed", "hits.remote", "hits.total"]
M = ["misses.local", "misses.remote", "misses.remote_fallback", "misses.total"]
def dontcare(ks):
    for k in ks: want[k] = None
kind = spec[0]
extra = None
grid = os.environ.get("KC_GRID") == "1"
if kind == "miss" and grid:
    # With a scheduler set a local miss is the grid's: it compiles there, or
    # it had the result already (the same compile in an earlier step with
    # another local cache). Nothing compiles here.
    dontcare(H + M)
    want["misses.local"] = 0; want["misses.remote_fallback"] = 0
    extra = ("misses.remote + hits.remote == 1 (the grid's)",
             delta["misses.remote"] + delta["hits.remote"] == 1 and
             delta["misses.total"] + delta["hits.total"] == 1)
elif kind == "miss":
    want.update({"misses.local": 1, "misses.total": 1})
elif kind == "direct":
    want.update({"hits.direct": 1, "hits.total": 1})
elif kind == "hit":
    want["hits.total"] = 1; dontcare(["hits.direct", "hits.preprocessed"])
    extra = ("hits.direct + hits.preprocessed == 1",
             delta["hits.direct"] + delta["hits.preprocessed"] == 1)
elif kind == "anyhit":
    want["hits.total"] = 1; dontcare(H[:3])
elif kind == "any":
    dontcare(H + M)
    extra = ("hits.total + misses.total == 1", delta["hits.total"] + delta["misses.total"] == 1)
elif kind == "uncacheable":
    want["uncacheable_total"] = 1
elif kind == "failed":
    want["compile_failed"] = 1; dontcare(M)
elif kind == "none":
    pass
elif kind == "remote_miss":
    want.update({"misses.remote": 1, "misses.total": 1})
elif kind == "remote_hit":
    want.update({"hits.remote": 1, "hits.total": 1})
elif kind == "fallback":
    want["misses.remote_fallback"] = 1; want["misses.total"] = 1; dontcare(["misses.local"])
elif kind == "anything":
    dontcare(keys)
else:
    sys.exit("check_delta: unknown kind " + kind)
for o in spec[1:]:
    if o.endswith("?"):
        want[o[:-1]] = None
    else:
        k, v = o.split("=")
        want[k] = int(v)
bad = ["%s: expected %+d, got %+d" % (k, want[k], delta[k])
       for k in keys if want[k] is not None and want[k] != delta[k]]
if extra and not extra[1]:
    bad.append("expected " + extra[0])
if bad:
    sys.exit("statistics after a compile expected to be '%s': %s\n  all changes: %s" % (
        sys.argv[3], "; ".join(bad),
        ", ".join("%s %+d" % (k, v) for k, v in delta.items() if v) or "none"))
EOF
}

# kc_fail MSG: fails the compile kc is checking, with its statistics.
kc_fail() {
  fail "$KC_WHAT: $*
  statistics: $(cat "$T/delta.err")"
}

# kc SPEC OUT [--also FILE]... [--warn one|maybe] [VAR=VALUE]... -- COMMAND...
# Runs "${LAUNCH[@]}" COMMAND (kiln in front of the compiler), then COMMAND
# itself, with the same VAR=VALUE environment in the same directory, and
# demands: same exit code, stdout, stderr; OUT and every --also FILE exist
# after both or after neither, with identical bytes (OUT "-" = no object
# expected to be compared). Output files are removed before each run, so a
# hit must write them. SPEC: the statistics change (check_delta; "-" skips
# reading statistics). --warn one: kiln's stderr has exactly one extra line
# starting "kiln: warning:"; --warn maybe: at most one. Leaves the plain
# compiler's outputs in place and kiln's stderr in $T/k.err.
kc() {
  local spec=$1 out=$2
  shift 2
  local files=() envs=() warn=none
  [ "$out" = - ] || files+=("$out")
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    case $1 in
      --also) files+=("$2"); shift 2 ;;
      --warn) warn=$2; shift 2 ;;
      *=*) envs+=("$1"); shift ;;
      *) fail "kc: bad option $1" ;;
    esac
  done
  [ $# -gt 1 ] || fail "kc: no command"
  shift
  local f i
  for f in "${files[@]}"; do rm -f -- "$f"; done
  [ "$spec" = - ] || snap "$T/before.json"
  local krc=0 grc=0
  env "${envs[@]}" "${LAUNCH[@]}" "$@" >"$T/k.out" 2>"$T/k.err" </dev/null || krc=$?
  [ "$spec" = - ] || snap "$T/after.json"
  i=0
  for f in "${files[@]}"; do
    rm -f "$T/k.file.$i"
    if [ -e "$f" ]; then mv -- "$f" "$T/k.file.$i"; fi
    i=$((i + 1))
  done
  env "${envs[@]}" "$@" >"$T/g.out" 2>"$T/g.err" </dev/null || grc=$?
  KC_WHAT="kiln ${envs[*]} $*  (in $PWD)"
  # The statistics are checked last, but reported with any other failure.
  local stats_ok=1
  if [ "$spec" != - ]; then
    check_delta "$T/before.json" "$T/after.json" "$spec" 2>"$T/delta.err" || stats_ok=0
    [ "$stats_ok" -eq 0 ] || echo "statistics as expected ($spec)" >"$T/delta.err"
  else
    : >"$T/delta.err"
  fi
  [ "$krc" -eq "$grc" ] ||
    kc_fail "exit code $krc, plain compiler $grc; kiln stderr: $(head -c 2000 "$T/k.err")"
  # kiln's own warning lines, if allowed, are not part of the comparison.
  local nwarn
  nwarn=$(grep -c '^kiln: warning:' "$T/k.err" || true)
  case $warn in
    one) [ "$nwarn" -eq 1 ] ||
      kc_fail "expected one 'kiln: warning:' line on stderr, got $nwarn: $(cat "$T/k.err")" ;;
    maybe) [ "$nwarn" -le 1 ] || kc_fail "$nwarn 'kiln: warning:' lines: $(cat "$T/k.err")" ;;
    none) [ "$nwarn" -eq 0 ] || kc_fail "unexpected kiln warning: $(cat "$T/k.err")" ;;
  esac
  grep -v '^kiln: warning:' "$T/k.err" >"$T/k.err.cmp" || true
  cmp -s "$T/k.err.cmp" "$T/g.err" ||
    kc_fail "stderr differs from the plain compiler's:
$(diff "$T/g.err" "$T/k.err.cmp" | head -40)"
  cmp -s "$T/k.out" "$T/g.out" ||
    kc_fail "stdout differs from the plain compiler's ($(wc -c <"$T/k.out") vs $(wc -c <"$T/g.out") bytes)"
  i=0
  for f in "${files[@]}"; do
    if [ -e "$f" ] && [ ! -e "$T/k.file.$i" ]; then
      kc_fail "kiln did not write $f (the plain compiler did)"
    elif [ ! -e "$f" ] && [ -e "$T/k.file.$i" ]; then
      kc_fail "kiln wrote $f, the plain compiler did not"
    elif [ -e "$f" ] && ! cmp -s "$f" "$T/k.file.$i"; then
      if [[ $f == *.d ]]; then
        kc_fail "$f differs from the plain compiler's (< gcc, > kiln):
$(diff "$f" "$T/k.file.$i" | head -20)"
      fi
      kc_fail "$f differs from the plain compiler's: $(cmp "$f" "$T/k.file.$i" 2>&1 || true)"
    fi
    i=$((i + 1))
  done
  [ "$stats_ok" -eq 1 ] || kc_fail "wrong statistics"
}

# kc_twice OUT [kc options] -- COMMAND...: a miss, then a direct hit.
kc_twice() {
  local out=$1
  shift
  kc miss "$out" "$@"
  kc direct "$out" "$@"
}

# run_scenarios NAME...: runs each sc_NAME in a subshell (its own cwd and
# environment), prints "ok NAME" or the failure, and returns 1 if any failed.
run_scenarios() {
  local name rc failed=() start
  for name in "$@"; do
    start=$SECONDS
    set +e
    (
      set -euo pipefail
      "sc_$name"
    )
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
      echo "ok $name ($((SECONDS - start)) s)"
    else
      echo "not ok $name"
      failed+=("$name")
    fi
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]}" >&2
    return 1
  fi
}

# skip WHY: ends the current scenario successfully, saying why.
skip() {
  echo "skip: $*"
  exit 0
}
