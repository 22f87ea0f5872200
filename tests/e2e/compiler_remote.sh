#!/usr/bin/env bash
# The compiler launcher with a grid (`kiln up --workers 2`): misses compile
# on a worker, a second machine (a fresh local cache) hits the central
# cache, and an unreachable scheduler means compiling here, promptly. Every
# object is compared byte for byte with the plain compiler's for the same
# command in the same directory (kc, compiler_lib.sh).
# Usage: compiler_remote.sh [SCENARIO...]   (default: all)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/compiler_lib.sh"

# One grid for all scenarios, with its stores under $WORK/grid.
source "$(dirname "$0")/up_lib.sh"


# A small project: src/main.c and src/util.c including include/util.h.
make_project() {
  mkdir -p "$1/src" "$1/include" "$1/build"
  printf '#ifndef UTIL_H\n#define UTIL_H\n#define SCALE 3\nint scale(int x);\n#endif\n' >"$1/include/util.h"
  printf '#include "util.h"\nint scale(int x) { return x * SCALE; }\n' >"$1/src/util.c"
  printf '#include <stdio.h>\n#include "util.h"\nint main(void) { printf("%%d\\n", scale(14)); return 0; }\n' \
    >"$1/src/main.c"
  printf 'int warn(void) {\n  int unused;\n  return 1;\n}\n' >"$1/src/warn.c"
  printf 'int broken(void) {\n  return 0\n}\n' >"$1/src/broken.c"
}

# A miss compiles on a worker; the object is the plain compiler's. Relative
# paths in the project dir, and CMake style (absolute paths, build dir), with
# and without -g. Then a second "machine" (fresh local cache) hits.
sc_remote() {
  setup remote
  export KILN_SCHEDULER=$GRID
  local proj="$S/proj"
  make_project "$proj"
  backdate
  cd "$proj" || exit
  kc remote_miss util.o -- gcc -Iinclude -c src/util.c -o util.o
  kc remote_miss main.o -- gcc -Iinclude -O2 -c src/main.c -o main.o
  gcc util.o main.o -o prog
  [ "$(./prog)" = 42 ] || fail "objects from the grid do not link or run"
  cd "$proj/build" || exit
  kc remote_miss u.o -- gcc -I"$proj/include" -O1 -o u.o -c "$proj/src/util.c"
  kc remote_miss m.o --also m.d -- gcc -MD -I"$proj/include" -o m.o -c "$proj/src/main.c"
  # A failed compile: exit code and stderr as here, not cached.
  cd "$proj" || exit
  kc "failed misses.remote? misses.total?" b.o -- gcc -c src/broken.c -o b.o
  kc "failed misses.remote? misses.total?" b.o -- gcc -c src/broken.c -o b.o

  # The same commands on another machine: a fresh local cache.
  export KILN_DIR="$S/cache-2"
  cd "$proj" || exit
  kc remote_hit util.o -- gcc -Iinclude -c src/util.c -o util.o
  kc remote_hit main.o -- gcc -Iinclude -O2 -c src/main.c -o main.o
  cd "$proj/build" || exit
  kc remote_hit u.o -- gcc -I"$proj/include" -O1 -o u.o -c "$proj/src/util.c"
  kc remote_hit m.o --also m.d -- gcc -MD -I"$proj/include" -o m.o -c "$proj/src/main.c"
  # And again on that machine: any hit, the object still right.
  cd "$proj" || exit
  kc anyhit util.o -- gcc -Iinclude -c src/util.c -o util.o

  # A header change is not a stale hit from the grid.
  printf '#ifndef UTIL_H\n#define UTIL_H\n#define SCALE 5\nint scale(int x);\n#endif\n' >"$proj/include/util.h"
  backdate
  kc remote_miss util.o -- gcc -Iinclude -c src/util.c -o util.o
  export KILN_DIR="$S/cache-3"
  kc remote_hit util.o -- gcc -Iinclude -c src/util.c -o util.o
}

# Warnings from a worker reach the user as the compiler prints them here
# (with the source line excerpt), on the miss and on a remote hit.
sc_remote_warnings() {
  setup remote_warnings
  export KILN_SCHEDULER=$GRID
  local proj="$S/proj"
  make_project "$proj"
  backdate
  cd "$proj" || exit
  # Headers mode (the default): the worker's compiler read the same files
  # at the same paths, so its messages are replayed, excerpts and all, with
  # no compile here.
  kc remote_miss w.o -- gcc -Wall -c src/warn.c -o w.o
  [ -s "$T/g.err" ] || fail "test bug: no warning from gcc"
  kc direct w.o -- gcc -Wall -c src/warn.c -o w.o
  export KILN_DIR="$S/cache-2"
  kc remote_hit w.o -- gcc -Wall -c src/warn.c -o w.o
  # Preprocessed mode: a worker's diagnostics lack gcc's source excerpts
  # (it has no sources), so a grid result with diagnostics is compiled again
  # here: stderr is exactly the local compiler's, on the miss and later.
  export KILN_REMOTE_MODE=preprocessed KILN_DIR="$S/cache-3"
  kc miss w2.o -- gcc -Wall -O1 -c src/warn.c -o w2.o
  kc direct w2.o -- gcc -Wall -O1 -c src/warn.c -o w2.o
  unset KILN_REMOTE_MODE
}

# -g with a grid. Headers mode: the worker compiles at the same paths, so
# the objects are byte-identical, DWARF and all. Preprocessed mode: a
# compile of preprocessed text differs in DWARF column numbers after macro
# expansions, so debug compiles run here (and hit the local cache).
sc_remote_debug() {
  setup remote_debug
  export KILN_SCHEDULER=$GRID
  local proj="$S/proj"
  make_project "$proj"
  backdate
  cd "$proj" || exit
  kc remote_miss t.o -- gcc -g -c src/warn.c -o t.o
  kc remote_miss util.o -- gcc -g -Iinclude -c src/util.c -o util.o
  cd "$proj/build" || exit
  kc remote_miss u.o -- gcc -g -O1 -I"$proj/include" -o u.o -c "$proj/src/util.c"
  kc remote_miss m.o --also m.d -- gcc -MD -g -I"$proj/include" -o m.o -c "$proj/src/main.c"
  kc direct m.o --also m.d -- gcc -MD -g -I"$proj/include" -o m.o -c "$proj/src/main.c"
  [ "$(stat misses.remote_by_mode.headers)" = 4 ] ||
    fail "-g compiles by mode: $("$KILN" -s --json)"
  # A header only asked about (__has_include), which GCC's -M leaves out:
  # the worker must find it too (has = 1, not 0), quoted and angled.
  printf '#define PROBED 1\n' >"$proj/include/probed.h"
  printf '#if __has_include("probed.h") && __has_include(<probed.h>)\nint has = 1;\n#else\nint has = 0;\n#endif\n' \
    >"$proj/include/asks.h"
  printf '#include "asks.h"\nint get(void) { return has; }\n' >"$proj/src/probe.c"
  backdate
  cd "$proj" || exit
  kc remote_miss probe.o -- gcc -g -Iinclude -c src/probe.c -o probe.o
  # A failed compile on the worker: its error replayed, exit code and all.
  cd "$proj" || exit
  kc "failed misses.remote? misses.total?" b.o -- gcc -g -c src/broken.c -o b.o
  export KILN_REMOTE_MODE=preprocessed KILN_DIR="$S/cache-pre"
  kc miss t.o -- gcc -g -c src/warn.c -o t.o
  kc remote_miss p.o -- gcc -O2 -Iinclude -c src/util.c -o p.o
  [ "$(stat misses.remote_by_mode.preprocessed)" = 1 ] && [ "$(stat misses.local)" = 1 ] ||
    fail "preprocessed mode: $("$KILN" -s --json)"
  unset KILN_REMOTE_MODE
}

# Clang, C++ and -g, in headers mode: its own libraries and the GCC
# installation it finds the C++ headers through are shipped.
sc_remote_clang() {
  command -v clang++ >/dev/null || fail "clang++ is not installed (scripts/test.sh installs it)"
  setup remote_clang
  export KILN_SCHEDULER=$GRID
  printf '#include <vector>\n#include <string>\nint n(){ std::vector<std::string> v{"a"}; return (int)v.size(); }\n' >v.cc
  backdate
  kc remote_miss v.o -- clang++ -g -O1 -c v.cc -o v.o
  kc remote_miss v2.o -- clang -O2 -c "$S/src/v.cc" -o v2.o
}

# A grid whose worker has no compiler at all (PATH holds only bwrap): the
# compile ships its toolchain, GCC and Clang, and the objects are the
# plain compiler's.
sc_shipped_toolchain() {
  setup shipped_toolchain
  mkdir -p "$S/bwrap-only"
  ln -s "$(command -v bwrap)" "$S/bwrap-only/bwrap"
  start_grid bare 1 PATH="$S/bwrap-only"
  trap stop_last_grid EXIT
  grep -q 'toolchain:' "$WORK/bare.err" && fail "the bare worker advertises a compiler: $(cat "$WORK/bare.err")"
  export KILN_SCHEDULER=$GRID
  printf '#include <map>\n#include <cstdio>\nint main(){ std::map<int,int> m{{1,2}}; std::printf("%%d\\n", m[1]); }\n' >s.cc
  backdate
  kc remote_miss s.o -- g++ -g -O1 -c s.cc -o s.o
  g++ s.o -o s && [ "$(./s)" = 2 ] || fail "the object from a shipped toolchain does not run"
  kc remote_miss c.o -- gcc -g -x c++ -c "$S/src/s.cc" -o c.o
  if command -v clang++ >/dev/null; then
    kc remote_miss sc.o -- clang++ -g -c s.cc -o sc.o
  fi
  [ "$(stat misses.remote_fallback)" = 0 ] || fail "fell back: $("$KILN" -s --json)"
}

# remote_mode=auto on a grid whose workers run no sandbox (so no hermetic
# compile): kiln asks the grid once and uses preprocessed mode at once
# (no wait for a worker that will never come); -g compiles here.
sc_auto_without_rootfs() {
  setup auto_without_rootfs
  start_grid plain 1 KILN_SANDBOX=none
  trap stop_last_grid EXIT
  grep -q 'input-root=filesystem' "$WORK/plain.err" && fail "a worker without bubblewrap offers input-root"
  export KILN_SCHEDULER=$GRID KILN_LOGFILE="$S/kiln.log"
  printf 'int q(int x) { return x * 3; }\n' >q.c
  backdate
  local start
  start=$(date +%s)
  kc remote_miss q.o -- gcc -O2 -c q.c -o q.o
  kc miss qg.o -- gcc -g -O2 -c q.c -o qg.o
  [ $(($(date +%s) - start)) -lt 20 ] || fail "auto mode waited for a worker that cannot come"
  [ "$(stat misses.remote_by_mode.preprocessed)" = 1 ] || fail "by mode: $("$KILN" -s --json)"
  grep -q 'no worker of the grid runs shipped toolchains' "$S/kiln.log" ||
    fail "the log does not say why: $(cat "$S/kiln.log")"
  unset KILN_LOGFILE
}

# Any checkout path (KILN_BASEDIR): a copy of the tree elsewhere, from an
# empty local cache, hits the grid's results of the first, and its objects
# are the plain compiler's for the copy. With -g only when the object does
# not record the checkout's path (-ffile-prefix-map): otherwise the copy
# compiles again, correctly.
sc_remote_basedir() {
  setup remote_basedir
  export KILN_SCHEDULER=$GRID KILN_BASEDIR=$S
  make_project "$S/a/proj"
  make_project "$S/b/proj"
  backdate
  local t
  for t in a b; do
    export KILN_DIR="$S/cache-$t"
    local want=remote_miss
    [ "$t" = b ] && want=remote_hit
    cd "$S/$t/proj/build" || exit
    kc "$want" u.o -- gcc -O1 -I"$S/$t/proj/include" -c "$S/$t/proj/src/util.c" -o u.o
    kc "$want" m.o --also m.d -- gcc -MD -O2 -I../include -c ../src/main.c -o m.o
    kc "$want" g.o -- gcc -g -ffile-prefix-map="$S/$t/proj"=. -I../include -c ../src/util.c -o g.o
    # -g with the checkout's path in the object: not shared, still right.
    kc remote_miss d.o -- gcc -g -I../include -c ../src/util.c -o d.o
  done
  unset KILN_BASEDIR
}

# Concurrent misses on the grid: all correct.
sc_remote_parallel() {
  setup remote_parallel
  export KILN_SCHEDULER=$GRID
  mkdir -p o ref
  local i pids=() bad=0
  for i in $(seq 1 8); do
    printf 'int p%d(int x) { return x + %d; }\n' "$i" "$((i * 7))" >"p$i.c"
    gcc -c "p$i.c" -o "ref/p$i.o"
  done
  for i in $(seq 1 8); do
    "$KILN" gcc -c "p$i.c" -o "o/p$i.o" >"$T/p$i.out" 2>"$T/p$i.err" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
  [ "$bad" -eq 0 ] || fail "$bad of 8 concurrent grid compiles failed: $(cat "$T"/p*.err | head)"
  for i in $(seq 1 8); do
    cmp -s "o/p$i.o" "ref/p$i.o" || fail "o/p$i.o differs from gcc's"
    [ ! -s "$T/p$i.err" ] || fail "stderr from compile $i: $(cat "$T/p$i.err")"
  done
  [ "$(stat misses.remote)" = 8 ] || fail "misses.remote: expected 8, got $(stat misses.remote)"
}

# An unreachable scheduler: compile here, promptly, counted as a fallback.
sc_fallback() {
  setup fallback
  local port start elapsed
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  export KILN_SCHEDULER="tcp://127.0.0.1:$port"
  printf 'int fb(void) {\n  int unused;\n  return 17;\n}\n' >a.c
  backdate
  start=$(date +%s.%N)
  kc fallback a.o --warn maybe -- gcc -Wall -c a.c -o a.o
  elapsed=$("$PY" -c "print(round($(date +%s.%N) - $start, 1))")
  "$PY" -c "import sys; sys.exit($elapsed >= 20)" ||
    fail "with an unreachable scheduler the compile took ${elapsed}s (limit 20 s)"
  echo "fallback compile took ${elapsed}s"
}

# The masquerade (a gcc symlink to kiln first on PATH) with a grid: the
# grid client kiln hands over to must skip the symlink too.
sc_remote_masquerade() {
  setup remote_masquerade
  export KILN_SCHEDULER=$GRID
  mkdir -p "$S/bin"
  ln -s "$KILN" "$S/bin/gcc"
  printf 'int m(int x) { return x * 5; }\n' >m.c
  backdate
  PATH="$S/bin:$PATH" gcc -O2 -c m.c -o m.o || fail "masquerade compile failed"
  gcc -O2 -c m.c -o ref.o
  cmp -s m.o ref.o || fail "masquerade object differs from gcc's"
  [ "$(stat misses.remote)" = 1 ] || fail "masquerade compile did not go to the grid: $("$KILN" -s --json)"
  [ "$(stat uncacheable_total)" = 0 ] || fail "masquerade counted as uncacheable: $("$KILN" -s --json)"
}

# kiln hands grid compiles to kiln-grid with a record of what it worked out
# (KILN_HANDOFF, valid only for the same process and argv). A record left
# in the environment by someone else, stale or forged, is ignored: the
# compile is the plain compiler's, on the grid, and the compiler never sees
# the variable.
sc_stale_handoff() {
  setup stale_handoff
  export KILN_SCHEDULER=$GRID
  printf 'int h(int x) { return x + 8; }\n' >h.c
  printf 'int g(int x) { return x + 9; }\n' >g.c
  backdate
  # Another process's record for this very command (pid 1), and garbage.
  local argv_digest
  argv_digest=$(printf 'x' | sha256sum | cut -c1-32)
  KILN_HANDOFF="v1;pid=1;argv=$argv_digest;compiler=/bin/false;identity=0/0;manifest=0/0;direct=1" \
    kc remote_miss h.o -- gcc -O2 -c h.c -o h.o
  KILN_HANDOFF='not a record at all' kc remote_miss g.o -- gcc -O2 -c g.c -o g.o
  # The compiler's environment: a driver that records it, then compiles
  # (here: no worker has this driver, so the grid would keep it 30 s).
  unset KILN_SCHEDULER
  mkdir -p "$S/bin"
  printf '#!/bin/sh\nenv >>"%s/seen-env"\nexec gcc "$@"\n' "$S" >"$S/bin/cc-wrapper"
  chmod +x "$S/bin/cc-wrapper"
  KILN_HANDOFF='v1;pid=1' "$KILN" "$S/bin/cc-wrapper" -c h.c -o h2.o ||
    fail "a compile with a stale KILN_HANDOFF failed"
  [ -s "$S/seen-env" ] || fail "test bug: the wrapper never ran"
  ! grep -q '^KILN_HANDOFF=' "$S/seen-env" || fail "the compiler saw KILN_HANDOFF"
}

all=(remote remote_warnings remote_debug remote_clang shipped_toolchain auto_without_rootfs remote_basedir
  remote_parallel
  remote_masquerade
  stale_handoff fallback)
if [ $# -gt 0 ]; then all=("$@"); fi
start_grid grid 2
run_scenarios "${all[@]}"
echo "compiler_remote: all scenarios passed"
