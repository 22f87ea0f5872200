#!/usr/bin/env bash
# The compiler launcher on this machine (no scheduler): `kiln gcc -c …`
# must behave exactly like the compiler it wraps (exit code, stdout,
# stderr, object and dependency files byte for byte) while caching what is
# cacheable. Every compile below is checked against the plain compiler
# running the same command in the same directory (kc, compiler_lib.sh).
# One function per scenario, each with a fresh cache and source directory.
# Usage: compiler.sh [SCENARIO...]   (default: all)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/compiler_lib.sh"
unset KILN_SCHEDULER

# ---------------------------------------------------------------------------
# The ways to invoke the launcher: `kiln gcc`, `kiln g++`, `kiln /usr/bin/gcc`
# and symlinks named like the compiler placed first on PATH.
sc_forms() {
  setup forms
  printf 'int add(int a, int b) { return a + b; }\n' >a.c
  printf 'template <class T> T twice(T x) { return x + x; }\nint f(int x) { return twice(x); }\n' >b.cpp
  backdate
  kc miss a.o -- gcc -c a.c -o a.o
  kc direct a.o -- gcc -c a.c -o a.o
  [ "$(stat cache_dir)" = "$KILN_DIR" ] || fail "cache_dir is $(stat cache_dir), expected $KILN_DIR"
  kc_twice b.o -- g++ -c b.cpp -o b.o
  local gcc_path
  gcc_path=$(command -v gcc)
  kc any a.o -- "$gcc_path" -c a.c -o a.o
  kc direct a.o -- "$gcc_path" -c a.c -o a.o

  # Masquerade: gcc, g++ and cc symlinks to kiln, first on PATH.
  mkdir -p "$S/bin"
  ln -s "$KILN" "$S/bin/gcc"
  ln -s "$KILN" "$S/bin/g++"
  ln -s "$KILN" "$S/bin/cc"
  # shellcheck disable=SC2034  # used by kc
  LAUNCH=(env "PATH=$S/bin:$PATH")
  export KILN_DIR="$S/cache2"
  kc miss a.o -- gcc -c a.c -o a.o
  kc direct a.o -- gcc -c a.c -o a.o
  kc_twice b.o -- g++ -c b.cpp -o b.o
  kc any c.o -- cc -c a.c -o c.o
  kc direct c.o -- cc -c a.c -o c.o
  # Two masquerade directories before the real compiler: kiln must skip
  # every link to itself (and not loop).
  mkdir -p "$S/bin2"
  ln -s "$KILN" "$S/bin2/gcc"
  # shellcheck disable=SC2034
  LAUNCH=(timeout 20 env "PATH=$S/bin:$S/bin2:$PATH")
  kc any d.o -- gcc -O1 -c a.c -o d.o
  # A plain gcc run through the masquerade link is the real gcc: --version.
  kc uncacheable - -- gcc --version
}

# 1. A first compile is a miss, the same compile again a direct hit.
sc_basic() {
  setup basic
  printf '#include <stdio.h>\nint main(void) { printf("hello\\n"); return 0; }\n' >hello.c
  backdate
  kc miss hello.o -- gcc -c hello.c -o hello.o
  local where=misses.local
  [ "${KC_GRID:-0}" = 1 ] && where=misses.remote
  [ "$(stat $where)" = 1 ] || fail "$where: expected 1, got $(stat $where)"
  kc direct hello.o -- gcc -c hello.c -o hello.o
  [ "$(stat hits.direct)" = 1 ] || fail "hits.direct: expected 1, got $(stat hits.direct)"
  # No -o: the default output name.
  kc any hello.o -- gcc -c hello.c
  kc direct hello.o -- gcc -c hello.c
  # An object in another directory.
  mkdir -p obj
  kc any obj/hello.o -- gcc -c hello.c -o obj/hello.o
  kc direct obj/hello.o -- gcc -c hello.c -o obj/hello.o
}

# A compile right after the source was written (as in CI, right after a
# checkout): kiln rightly does not record a too-new file in a manifest, but
# the result must still be found the second time (ccache falls back to its
# preprocessor-mode key: a preprocessed hit).
sc_fresh_source() {
  setup fresh_source
  printf 'int fresh(void) { return 1; }\n' >fresh.c
  kc miss fresh.o -- gcc -c fresh.c -o fresh.o
  kc hit fresh.o -- gcc -c fresh.c -o fresh.o
}

# 2. What is in the key: header contents, source contents, -D, -O, the
# compiler, CPATH. What is not: mtimes.
sc_key() {
  setup key
  mkdir inc
  printf '#define K 1\n' >inc/k.h
  printf '#include "k.h"\nint f(void) { return K; }\n' >a.c
  backdate
  local cmd=(gcc -Iinc -c a.c -o a.o)
  kc miss a.o -- "${cmd[@]}"
  kc direct a.o -- "${cmd[@]}"
  touch inc/k.h
  kc hit a.o -- "${cmd[@]}"
  # Same size, same second as the compile above: still a miss (the
  # manifest records digests, not mtimes), then a direct hit.
  printf '#define K 2\n' >inc/k.h
  kc miss a.o -- "${cmd[@]}"
  kc direct a.o -- "${cmd[@]}"
  backdate inc/k.h
  kc direct a.o -- "${cmd[@]}"
  touch a.c
  kc hit a.o -- "${cmd[@]}"
  printf '#include "k.h"\nint f(void) { return K + 1; }\n' >a.c
  backdate a.c
  kc miss a.o -- "${cmd[@]}"
  # Back to the first contents: the old entry is valid again.
  printf '#define K 1\n' >inc/k.h
  printf '#include "k.h"\nint f(void) { return K; }\n' >a.c
  backdate
  kc hit a.o -- "${cmd[@]}"
  kc miss a.o -- gcc -Iinc -DEXTRA=1 -c a.c -o a.o
  kc miss a.o -- gcc -Iinc -O2 -c a.c -o a.o
  kc miss a.o -- gcc -Iinc -O3 -c a.c -o a.o
  kc miss a.o -- g++ -Iinc -c a.c -o a.o
  kc direct a.o -- g++ -Iinc -c a.c -o a.o
  # CPATH is an include path from the environment.
  mkdir cp1 cp2
  printf '#define CFG 10\n' >cp1/cfg.h
  printf '#define CFG 20\n' >cp2/cfg.h
  printf '#include <cfg.h>\nint g(void) { return CFG; }\n' >b.c
  backdate
  kc miss b.o "CPATH=$S/src/cp1" -- gcc -c b.c -o b.o
  kc direct b.o "CPATH=$S/src/cp1" -- gcc -c b.c -o b.o
  kc miss b.o "CPATH=$S/src/cp2" -- gcc -c b.c -o b.o
  kc direct b.o "CPATH=$S/src/cp2" -- gcc -c b.c -o b.o
}

# 3. Dependency files: written on hits too, identical to the compiler's for
# that exact command (targets follow -MT/-MQ/-o).
sc_deps() {
  setup deps
  mkdir inc obj d
  printf '#define D 4\n' >inc/dep.h
  printf '#include <stdio.h>\n#include "dep.h"\nint f(void) { return D + (int)sizeof(FILE); }\n' >a.c
  backdate
  # -MD alone: the .d goes next to the -o output.
  kc miss obj/a.o --also obj/a.d -- gcc -MD -Iinc -c a.c -o obj/a.o
  kc direct obj/a.o --also obj/a.d -- gcc -MD -Iinc -c a.c -o obj/a.o
  # -MD without -o: a.o and a.d in the current directory.
  kc any a.o --also a.d -- gcc -MD -Iinc -c a.c
  kc direct a.o --also a.d -- gcc -MD -Iinc -c a.c
  # Another -o: the default target and the .d location change with it.
  kc any x.o --also x.d -- gcc -MD -Iinc -c a.c -o x.o
  kc any y.o --also y.d -- gcc -MD -Iinc -c a.c -o y.o
  kc direct y.o --also y.d -- gcc -MD -Iinc -c a.c -o y.o
  kc any x.o --also x.d -- gcc -MD -Iinc -c a.c -o x.o
  # -MMD -MP -MF -MT, then the target changes between runs.
  kc any a.o --also d/a.d -- gcc -MMD -MP -MF d/a.d -MT tgt1 -Iinc -c a.c -o a.o
  kc direct a.o --also d/a.d -- gcc -MMD -MP -MF d/a.d -MT tgt1 -Iinc -c a.c -o a.o
  kc any a.o --also d/a.d -- gcc -MMD -MP -MF d/a.d -MT tgt2 -Iinc -c a.c -o a.o
  kc any a.o --also d/a.d -- gcc -MMD -MP -MF d/a.d -MT tgt1 -Iinc -c a.c -o a.o
  # Several targets, -MQ quoting, joined forms.
  kc any a.o --also d/m.d -- gcc -MD -MF d/m.d -MT one -MQ '$(OUT)/two o.o' -Iinc -c a.c -o a.o
  kc direct a.o --also d/m.d -- gcc -MD -MF d/m.d -MT one -MQ '$(OUT)/two o.o' -Iinc -c a.c -o a.o
  kc any a.o --also d/j.d -- gcc -MMD -MFd/j.d -MTjoined -Iinc -c a.c -o a.o
  kc direct a.o --also d/j.d -- gcc -MMD -MFd/j.d -MTjoined -Iinc -c a.c -o a.o
  # -MD with -MP and a header that is later deleted from the deps.
  kc any a.o --also a.d -- gcc -MD -MP -Iinc -c a.c -o a.o
  kc direct a.o --also a.d -- gcc -MD -MP -Iinc -c a.c -o a.o
  grep -q '^inc/dep.h:' a.d || fail "-MP: no phony target in $(cat a.d)"
}

# 4. Diagnostics: warnings replayed on hits; failed compiles pass through
# and are never cached.
sc_diagnostics() {
  setup diagnostics
  printf 'int f(void) {\n  int unused;\n  return 0;\n}\n' >w.c
  backdate
  kc miss w.o -- gcc -Wall -c w.c -o w.o
  [ -s "$T/g.err" ] || fail "test bug: gcc -Wall printed no warning"
  kc direct w.o -- gcc -Wall -c w.c -o w.o
  # A syntax error: same exit code and stderr, counted, compiled again.
  printf 'int f(void) {\n  return 0\n}\n' >e.c
  kc failed e.o -- gcc -c e.c -o e.o
  [ "$(cat "$T/g.err")" != "" ] || fail "test bug: no error from gcc"
  kc failed e.o -- gcc -c e.c -o e.o
  [ "$(stat compile_failed)" = 2 ] || fail "compile_failed: expected 2, got $(stat compile_failed)"
  # -Werror turns the cached warning into a failure, never cached.
  kc failed w.o -- gcc -Wall -Werror -c w.c -o w.o
  kc failed w.o -- gcc -Wall -Werror -c w.c -o w.o
  [ "$(stat compile_failed)" = 4 ] || fail "compile_failed: expected 4, got $(stat compile_failed)"
  # A missing header: a failure, and after creating it a real compile.
  printf '#include "later.h"\nint g(void) { return LATER; }\n' >l.c
  kc failed l.o -- gcc -c l.c -o l.o
  printf '#define LATER 5\n' >later.h
  backdate
  kc miss l.o -- gcc -c l.c -o l.o
  # A warning from the preprocessor (#warning) is replayed as well.
  printf '#warning "careful"\nint h(void) { return 1; }\n' >pw.c
  backdate
  kc miss pw.o -- gcc -c pw.c -o pw.o
  kc direct pw.o -- gcc -c pw.c -o pw.o
}

# 5. Response files and paths with spaces.
sc_rsp() {
  setup rsp
  printf 'int v(void) { return VAL; }\n' >a.c
  printf -- '-c -DVAL=7\n-o out.o a.c\n' >args.rsp
  backdate
  kc miss out.o -- gcc @args.rsp
  kc direct out.o -- gcc @args.rsp
  printf -- '-c -DVAL=8\n-o out.o a.c\n' >args.rsp
  kc miss out.o -- gcc @args.rsp
  mkdir -p "my src" "out dir"
  printf 'int sp(void) { return 3; }\n' >"my src/a b.c"
  backdate
  kc miss "out dir/a b.o" -- gcc -c "my src/a b.c" -o "out dir/a b.o"
  kc direct "out dir/a b.o" -- gcc -c "my src/a b.c" -o "out dir/a b.o"
  printf -- '-c "my src/a b.c" -o '"'"'out dir/a b.o'"'"'\n' >"sp.rsp"
  kc hit "out dir/a b.o" -- gcc @sp.rsp
  kc any "out dir/a b.o" --also "out dir/a b.d" -- gcc -MD -c "my src/a b.c" -o "out dir/a b.o"
  kc direct "out dir/a b.o" --also "out dir/a b.d" -- gcc -MD -c "my src/a b.c" -o "out dir/a b.o"
}

# 6. Options that change how the source is read or compiled.
sc_options() {
  setup options
  mkdir sys q
  printf 'int odd(void) { return 11; }\n' >code.txt
  backdate
  kc_twice code.o -- gcc -x c -c code.txt -o code.o
  printf '#define PRE 2\n' >pre.h
  printf 'int p(void) { return PRE; }\n' >p.c
  backdate
  kc_twice p.o -- gcc -include pre.h -c p.c -o p.o
  printf '#define PRE 3\n' >pre.h
  backdate
  kc_twice p.o -- gcc -include pre.h -c p.c -o p.o
  printf '#define SYS 5\n' >sys/s.h
  printf '#include <s.h>\nint s(void) { return SYS; }\n' >s.c
  backdate
  kc_twice s.o -- gcc -isystem sys -c s.c -o s.o
  printf '#define SYS 6\n' >sys/s.h
  backdate
  kc_twice s.o -- gcc -isystem sys -c s.c -o s.o
  printf '#define QQ 8\n' >q/qq.h
  printf '#include "qq.h"\nint qf(void) { return QQ; }\n' >qf.c
  backdate
  kc_twice qf.o -- gcc -iquote q -c qf.c -o qf.o
  printf '#define QQ 9\n' >q/qq.h
  backdate
  kc_twice qf.o -- gcc -iquote q -c qf.c -o qf.o
  printf 'static int sq(int x) { return x * x; }\nint m(int n) { int t = 0; for (int i = 0; i < n; i++) t += sq(i); return t; }\n' >m.c
  backdate
  kc_twice m.o -- gcc -std=c11 -c m.c -o m.o
  kc_twice m.o -- gcc -g -c m.c -o m.o
  kc_twice m.o -- gcc -O2 -c m.c -o m.o
  kc_twice m.o -- gcc -fPIC -c m.c -o m.o
  kc_twice m.o -- gcc -g -O2 -fPIC -std=c11 -Wall -Wextra -c m.c -o m.o
  printf '#include <vector>\nint sum(const std::vector<int>& v) { int t = 0; for (int x : v) t += x; return t; }\n' >v.cpp
  backdate
  kc_twice v.o -- g++ -std=c++17 -O2 -g -c v.cpp -o v.o
}

# The same with clang, when it is installed.
sc_clang() {
  command -v clang >/dev/null || skip "clang not installed"
  setup clang
  printf '#include <stdio.h>\nint main(void) { int unused; puts("c"); return 0; }\n' >a.c
  backdate
  kc_twice a.o -- clang -c a.c -o a.o
  kc_twice a.o -- clang -Wall -g -O2 -c a.c -o a.o
  kc any a.o --also a.d -- clang -MD -c a.c -o a.o
  kc direct a.o --also a.d -- clang -MD -c a.c -o a.o
}

# Links (CMAKE_<LANG>_LINKER_LAUNCHER=kiln, or kiln gcc *.o -o prog) are
# cached too, keyed by everything the linker read (its --dependency-file).
sc_link() {
  setup link
  printf 'int helper(void) { return 1; }\n' >b.c
  printf '#include <stdio.h>\nint helper(void);\nint main(void) { printf("%%d\\n", helper()); return 0; }\n' >a.c
  gcc -c a.c -o a.o && gcc -c b.c -o b.o
  backdate
  kc none prog -- gcc a.o b.o -o prog
  [ "$(stat links.misses)/$(stat links.hits)" = 1/0 ] || fail "a first link is not a link miss"
  kc none prog -- gcc a.o b.o -o prog
  [ "$(stat links.hits)" = 1 ] || fail "the same link again is not a hit: $("$KILN" -s --json)"
  [ -x prog ] && [ "$(./prog)" = 1 ] || fail "the program from the cache does not run"
  # A changed object is a miss; the old one again a hit.
  printf 'int helper(void) { return 2; }\n' >b.c
  gcc -c b.c -o b.o
  kc none prog -- gcc a.o b.o -o prog
  [ "$(./prog)" = 2 ] || fail "a stale link after an object changed"
  [ "$(stat links.misses)" = 2 ] || fail "a changed object is not a link miss"
  kc none lib.so -- gcc -shared -o lib.so b.o
  kc none lib.so -- gcc -shared -o lib.so b.o
  [ "$(stat links.hits)" = 2 ] || fail "a shared library link is not cached"
}

# 7. Uncacheable commands run the compiler unchanged, and are counted with
# their reasons.
sc_uncacheable() {
  setup uncacheable
  printf 'int helper(void) { return 1; }\n' >b.c
  printf '#include <stdio.h>\nint helper(void);\nint main(void) { printf("%%d\\n", helper()); return 0; }\n' >a.c
  gcc -c a.c -o a.o && gcc -c b.c -o b.o
  kc uncacheable prog --also prog.map -- gcc a.o b.o -o prog -Wl,-Map,prog.map
  [ "$(./prog)" = 1 ] || fail "the linked program does not work"
  kc uncacheable - -- gcc -E a.c
  kc uncacheable a.o --also b.o -- gcc -c a.c b.c
  kc uncacheable - -- gcc -c b.c -o -
  kc uncacheable b.o --also b.i --also b.s -- gcc -save-temps -c b.c -o b.o
  kc uncacheable b.s -- gcc -S b.c -o b.s
  kc uncacheable b.o -- gcc -H -c b.c -o b.o
  kc uncacheable b.o -- gcc -Xlinker --as-needed -c b.c -o b.o
  kc anything - -- gcc -c missing.c -o missing.o
  local total reasons
  total=$(stat uncacheable_total)
  [ "$total" -ge 8 ] || fail "uncacheable_total: expected at least 8, got $total"
  reasons=$(stat uncacheable)
  "$PY" -c '
import json, sys
r = json.loads(sys.argv[1]); total = int(sys.argv[2])
if sum(r.values()) != total or len(r) < 4:
    sys.exit("uncacheable reasons %s do not add up to uncacheable_total %d (or fewer than 4 reasons)" % (r, total))
' "$reasons" "$total" || fail "reasons: $reasons"
  "$KILN" -s >"$T/table" || fail "kiln -s failed"
  grep -qi uncacheable "$T/table" || fail "kiln -s does not list uncacheable compiles: $(cat "$T/table")"
  [ "$(stat misses.total)/$(stat hits.total)" = 0/0 ] ||
    fail "uncacheable commands counted as hits or misses: $("$KILN" -s --json)"
}

# 8. KILN_BASEDIR: copies of a project at different paths share entries
# (paths below the base dir are relative in the key), unless the object
# itself records the absolute path (-g without -fdebug-prefix-map).
# make_copies: $S/one/proj and $S/two/proj, each with src/b.c including
# include/base.h, and a build dir.
make_copies() {
  local p
  for p in one two; do
    mkdir -p "$S/$p/proj/src" "$S/$p/proj/include" "$S/$p/proj/build"
    printf '#define BASE 42\n' >"$S/$p/proj/include/base.h"
    printf '#include "base.h"\nint base(void) { return BASE; }\n' >"$S/$p/proj/src/b.c"
  done
  backdate
}
# in_copy COPY [FLAGS...]: cd into COPY's build dir; CMD is the compile as
# CMake writes it (absolute -I and source paths).
in_copy() {
  local root="$S/$1/proj"
  shift
  cd "$root/build" || exit
  CMD=(gcc "$@" "-I$root/include" -o b.o -c "$root/src/b.c")
}

sc_basedir() {
  setup basedir
  make_copies
  export KILN_BASEDIR="$WORK"
  in_copy one
  kc miss b.o -- "${CMD[@]}"
  in_copy two
  kc direct b.o -- "${CMD[@]}"
  # Headers that differ between the copies are not shared.
  printf '#define BASE 43\n' >"$S/two/proj/include/base.h"
  backdate
  kc miss b.o -- "${CMD[@]}"
}

# Without a base dir: no sharing.
sc_basedir_off() {
  setup basedir_off
  make_copies
  in_copy one
  kc miss b.o -- "${CMD[@]}"
  in_copy two
  kc miss b.o -- "${CMD[@]}"
}

# -g: the object records the build directory, so copies must not share
# unless -fdebug-prefix-map maps it away.
sc_basedir_debug() {
  setup basedir_debug
  make_copies
  export KILN_BASEDIR="$WORK"
  in_copy one -g
  kc miss b.o -- "${CMD[@]}"
  in_copy two -g
  kc miss b.o -- "${CMD[@]}"
  # -g with -fdebug-prefix-map=$PWD=. from the project root: shared.
  cd "$S/one/proj" || exit
  kc miss build/b.o -- gcc -g "-fdebug-prefix-map=$PWD=." -I"$PWD/include" -o build/b.o -c "$PWD/src/b.c"
  cd "$S/two/proj" || exit
  kc direct build/b.o -- gcc -g "-fdebug-prefix-map=$PWD=." -I"$PWD/include" -o build/b.o -c "$PWD/src/b.c"
}

# 9. Many launchers at once on one cache.
sc_concurrency() {
  setup concurrency
  mkdir -p o ref
  local i r pids=() bad=0
  for i in $(seq 1 16); do
    printf 'int f%d(int x) { return x * %d + %d; }\n' "$i" "$i" "$((i * i))" >"s$i.c"
    gcc -c "s$i.c" -o "ref/s$i.o"
  done
  backdate
  local round
  for round in 1 2; do
    rm -f o/*
    snap "$T/before.json"
    pids=()
    for i in $(seq 1 16); do
      for r in a b; do
        "$KILN" gcc -c "s$i.c" -o "o/s$i.$r.o" >"$T/c$i$r.out" 2>"$T/c$i$r.err" &
        pids+=($!)
      done
    done
    bad=0
    for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
    snap "$T/after.json"
    [ "$bad" -eq 0 ] || fail "round $round: $bad of 32 concurrent compiles failed: $(cat "$T"/c*.err | sort | uniq -c | head)"
    for i in $(seq 1 16); do
      for r in a b; do
        cmp -s "o/s$i.$r.o" "ref/s$i.o" || fail "round $round: o/s$i.$r.o differs from gcc's"
        [ ! -s "$T/c$i$r.err" ] && [ ! -s "$T/c$i$r.out" ] ||
          fail "round $round: output from compile $i$r: $(cat "$T/c$i$r.err" "$T/c$i$r.out")"
      done
    done
    if [ "$round" = 1 ]; then
      local local_only="hits.remote=0 misses.remote=0"
      [ "${KC_GRID:-0}" = 1 ] && local_only="misses.local=0 misses.remote_fallback=0"
      check_delta "$T/before.json" "$T/after.json" \
        "anything $local_only uncacheable_total=0 errors=0 compile_failed=0" 2>"$T/d.err" ||
        fail "round 1: $(cat "$T/d.err")"
      "$PY" -c '
import json, sys
b, a = (json.load(open(p)) for p in sys.argv[1:3])
n = sum(a[k]["total"] - b[k]["total"] for k in ("hits", "misses"))
if n != 32: sys.exit("round 1: hits + misses = %d, expected 32" % n)' "$T/before.json" "$T/after.json" ||
        fail "statistics lost updates under concurrency"
    else
      check_delta "$T/before.json" "$T/after.json" "anything hits.total=32 misses.total=0 errors=0" \
        2>"$T/d.err" || fail "round 2 is not 100% hits: $(cat "$T/d.err")"
    fi
  done
}

# Many launchers creating the same fresh cache at once: every compile
# succeeds (the store is created by whichever comes first).
sc_fresh_cache_race() {
  setup fresh_cache_race
  printf 'int race(void) { return 8; }\n' >a.c
  backdate
  gcc -c a.c -o ref.o
  local round i pids bad
  for round in $(seq 1 10); do
    export KILN_DIR="$S/cache-$round"
    pids=()
    for i in $(seq 1 12); do
      "$KILN" gcc -c a.c -o "a$i.o" 2>"$T/r$i.err" &
      pids+=($!)
    done
    bad=0
    for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
    [ "$bad" -eq 0 ] ||
      fail "round $round: $bad of 12 compiles on a fresh cache failed: $(cat "$T"/r*.err | sort | uniq -c)"
    for i in $(seq 1 12); do
      cmp -s "a$i.o" ref.o || fail "round $round: a$i.o differs from gcc's"
    done
  done
}

# 10. A corrupt cached object is never delivered: recompiled instead.
sc_corrupt() {
  setup corrupt
  printf 'int c1(void) { return 123; }\nconst char msg[] = "a message long enough to find in the store";\n' >a.c
  kc miss a.o -- gcc -c a.c -o a.o
  [ -f "$KILN_DIR/store/data.mdb" ] || fail "no $KILN_DIR/store/data.mdb"
  "$PY" - "$KILN_DIR/store/data.mdb" a.o <<'EOF' || fail "could not corrupt the cached object"
import sys
db, obj = sys.argv[1], open(sys.argv[2], "rb").read()
data = bytearray(open(db, "rb").read())
n, at = 0, data.find(obj)
while at >= 0:
    data[at + len(obj) // 2] ^= 0xFF
    n += 1
    at = data.find(obj, at + 1)
if n == 0:
    sys.exit("the object's bytes are not in " + db)
open(db, "r+b").write(data)
EOF
  kc anything a.o --warn maybe -- gcc -c a.c -o a.o
  kc anything a.o --warn maybe -- gcc -c a.c -o a.o

  # A big object (>= 4 MiB) lives in store/files/.
  printf 'char big[5 * 1024 * 1024] = {1};\nint b(void) { return big[7]; }\n' >big.c
  kc miss big.o -- gcc -c big.c -o big.o
  local size blob
  size=$(wc -c <big.o)
  blob=$(find "$KILN_DIR/store/files" -type f -name "*_$size" | sed -n 1p)
  [ -n "$blob" ] || fail "no blob of $size bytes in $KILN_DIR/store/files: $(find "$KILN_DIR/store" | head -20)"
  chmod u+w "$blob"
  "$PY" -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]) // 2); b = f.read(1); f.seek(int(sys.argv[2]) // 2); f.write(bytes([b[0] ^ 0xFF]))
' "$blob" "$size"
  kc anything big.o --warn maybe -- gcc -c big.c -o big.o
  kc anything big.o --warn maybe -- gcc -c big.c -o big.o
}

# 11. A cache that cannot be used: the compile still happens, with one
# warning line.
sc_unwritable() {
  setup unwritable
  printf 'int u(void) { return 9; }\n' >a.c
  if [ "$(id -u)" -eq 0 ]; then
    # root ignores permissions: a cache below a regular file can never exist.
    : >"$S/afile"
    export KILN_DIR="$S/afile/cache"
  else
    mkdir -p "$KILN_DIR"
    chmod -R a-w "$KILN_DIR"
  fi
  kc - a.o --warn one -- gcc -c a.c -o a.o
  kc - a.o --warn one -- gcc -Wall -c a.c -o a.o
  printf 'int u(void) { int x; return 9; }\n' >w.c
  kc - w.o --warn one -- gcc -Wall -c w.c -o w.o
  [ -s "$T/g.err" ] || fail "test bug: no warning from gcc"
  [ "$(id -u)" -eq 0 ] || chmod -R u+w "$KILN_DIR"
}

# 12. __TIME__: never a stale hit.
sc_time_macro() {
  setup time_macro
  printf 'const char *stamp(void) { return "STAMP=" __TIME__; }\n' >t.c
  local before after got first n
  for n in 1 2; do
    before=$(date +%T)
    expect_exit 0 "$KILN" gcc -c t.c -o t.o
    after=$(date +%T)
    [ ! -s "$WORK/err" ] || fail "stderr from a __TIME__ compile: $(cat "$WORK/err")"
    got=$(strings t.o | sed -n 's/^STAMP=//p')
    [[ "$got" > "$before" || "$got" == "$before" ]] && [[ "$got" < "$after" || "$got" == "$after" ]] ||
      fail "compile $n: object says __TIME__ = '$got', compiled between $before and $after"
    if [ "$n" = 1 ]; then
      first=$got
      # The next compile in another second.
      while [ "$(date +%T)" = "$after" ]; do sleep 0.1; done
    else
      [ "$got" != "$first" ] || fail "second compile reused the first one's __TIME__ ($got)"
    fi
  done
  [ "$(stat errors)" = 0 ] || fail "errors: $(stat errors)"
}

# 13. KILN_DISABLE, KILN_RECACHE, KILN_READONLY, KILN_LOGFILE, KILN_MAXSIZE
# and the cache options -s -z -C -M.
sc_env() {
  setup env
  printf 'int e(void) { return 5; }\n' >a.c
  backdate
  local cmd=(gcc -c a.c -o a.o)
  # KILN_DISABLE on a cache that does not exist yet: it stays that way.
  kc - a.o KILN_DISABLE=1 -- "${cmd[@]}"
  [ ! -e "$KILN_DIR" ] || fail "KILN_DISABLE=1 created $KILN_DIR: $(find "$KILN_DIR" | head)"
  kc miss a.o -- "${cmd[@]}"
  local size
  size=$(stat cache_size)
  [ "$size" -gt 0 ] || fail "cache_size is $size after a miss"
  kc none a.o KILN_DISABLE=1 -- "${cmd[@]}"
  [ "$(stat cache_size)" = "$size" ] || fail "KILN_DISABLE=1 changed cache_size"
  kc direct a.o -- "${cmd[@]}"
  kc miss a.o KILN_RECACHE=1 -- "${cmd[@]}"
  kc direct a.o -- "${cmd[@]}"

  # KILN_READONLY: lookups only.
  export KILN_DIR="$S/cache-ro"
  kc miss a.o KILN_READONLY=1 -- "${cmd[@]}"
  kc miss a.o KILN_READONLY=1 -- "${cmd[@]}"
  kc miss a.o -- "${cmd[@]}"
  kc direct a.o KILN_READONLY=1 -- "${cmd[@]}"
  printf 'int e(void) { return 6; }\n' >a.c
  backdate
  kc miss a.o KILN_READONLY=1 -- "${cmd[@]}"
  kc miss a.o -- "${cmd[@]}"

  # KILN_LOGFILE: appended to, at least one line per invocation.
  printf 'earlier line\n' >"$S/kiln.log"
  kc direct a.o "KILN_LOGFILE=$S/kiln.log" -- "${cmd[@]}"
  local n1 n2
  n1=$(wc -l <"$S/kiln.log")
  [ "$(head -1 "$S/kiln.log")" = "earlier line" ] || fail "KILN_LOGFILE was overwritten, not appended to"
  [ "$n1" -ge 2 ] || fail "KILN_LOGFILE: no line for a hit: $(cat "$S/kiln.log")"
  kc miss a.o "KILN_LOGFILE=$S/kiln.log" -- gcc -O1 -c a.c -o a.o
  n2=$(wc -l <"$S/kiln.log")
  [ "$n2" -gt "$n1" ] || fail "KILN_LOGFILE: no line for a miss"

  # Sizes: KILN_MAXSIZE, then -M into the config file.
  [ "$(KILN_MAXSIZE=1M stat max_size)" = 1048576 ] ||
    fail "KILN_MAXSIZE=1M: max_size is $(KILN_MAXSIZE=1M stat max_size)"
  expect_exit 0 "$KILN" -M 100M
  [ "$(stat max_size)" = 104857600 ] || fail "kiln -M 100M: max_size is $(stat max_size)"
  "$KILN" config >"$T/config" || fail "kiln config failed"
  grep -Eq '^max_size = (100M|104857600|100 MiB)( |$)' "$T/config" ||
    fail "kiln config after -M 100M: $(grep max_size "$T/config")"
  grep -q 'max_size' "$KILN_CONFIG" || fail "kiln -M did not write $KILN_CONFIG"
  grep 'max_size' "$T/config" | grep -q 'config file' || fail "max_size not from the config file: $(grep max_size "$T/config")"

  # A setting that cannot be read is one clear error naming the key and
  # where it was set, the compiler does not run and nothing is written.
  rm -f a.o
  size=$(stat cache_size)
  KILN_REMOTE_TIMEOUT=abc expect_exit 2 "$KILN" "${cmd[@]}"
  expect_err "kiln: error: remote_timeout: 'abc' is not a whole number of seconds"
  expect_err "(set by KILN_REMOTE_TIMEOUT)"
  [ ! -e a.o ] || fail "KILN_REMOTE_TIMEOUT=abc: the compile ran"
  KILN_READONLY=maybe expect_exit 2 "$KILN" "${cmd[@]}"
  expect_err "kiln: error: readonly: 'maybe' is not a boolean"
  [ "$(stat cache_size)" = "$size" ] || fail "a bad setting changed cache_size"
  kc direct a.o -- "${cmd[@]}"

  # -s prints a table; -z zeroes the counters, not the cache.
  expect_exit 0 "$KILN" -s
  grep -qi hit "$WORK/out" || fail "kiln -s: $(cat "$WORK/out")"
  size=$(stat cache_size)
  [ "$(stat hits.total)" -gt 0 ] || fail "test bug: no hits counted yet"
  expect_exit 0 "$KILN" -z
  local c
  for c in $KC_COUNTERS; do
    [ "$(stat "$c")" = 0 ] || fail "after kiln -z: $c = $(stat "$c")"
  done
  [ "$(stat cache_size)" = "$size" ] || fail "kiln -z changed cache_size from $size to $(stat cache_size)"
  kc direct a.o -- "${cmd[@]}"
  # -C empties the cache: the next compile is a miss.
  expect_exit 0 "$KILN" -C
  [ "$(stat cache_size)" -lt "$size" ] || fail "kiln -C: cache_size still $(stat cache_size)"
  kc miss a.o -- "${cmd[@]}"
  kc direct a.o -- "${cmd[@]}"
}

all=(forms basic fresh_source key link deps diagnostics rsp options clang uncacheable basedir basedir_off basedir_debug concurrency fresh_cache_race corrupt
  unwritable time_macro env)
if [ $# -gt 0 ]; then all=("$@"); fi
# KC_GRID=1 (tests/e2e/compiler_grid.sh): the same scenarios with a
# scheduler set, every miss expected on the grid (compiler_lib.sh).
if [ "${KC_GRID:-0}" = 1 ]; then
  source "$(dirname "$0")/up_lib.sh"
  start_grid grid 2
  export KILN_SCHEDULER=$GRID
fi
run_scenarios "${all[@]}"
echo "compiler: all scenarios passed"
