#!/usr/bin/env bash
# The journal and `kiln trace` (docs/insight.md): a small C++ project built
# through the launcher with make -j2, here and then on a real grid
# (`kiln up --workers 2`), and `kiln test` / `kiln run`; every trace is
# read with Python's json and checked: each compile and link present with
# its phases, time stamps in order, a rebuild's hits marked cached, grid
# compiles on worker lanes with the worker's phases, the CI invocation id
# and labels in otherData. Then every bad input of `kiln trace`.
source "$(dirname "$0")/lib.sh"

FIX=${FIXTURES:?set FIXTURES to the directory of the fixture binaries}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

source "$(dirname "$0")/up_lib.sh"

# A project of four sources, each distinct (so a grid compiles each), and
# one link; no -g, so a grid compiles them (debug compiles stay here).
make_project() {
  mkdir -p "$1"
  printf '#pragma once\nint part_a();\nint part_b();\nint part_c();\n' >"$1/parts.h"
  for p in a b c; do
    printf '#include "parts.h"\nint part_%s() { return sizeof("%s") * 7; }\n' "$p" "$p$1" >"$1/$p.cc"
  done
  printf '#include <cstdio>\n#include "parts.h"\nint main() { std::printf("%%d\\n", part_a() + part_b() + part_c()); }\n' >"$1/main.cc"
  cat >"$1/Makefile" <<'MK'
CXX ?= g++
OBJS = a.o b.o c.o main.o
prog: $(OBJS)
	$(CXX) -o $@ $(OBJS)
%.o: %.cc parts.h
	$(CXX) -O1 -c $< -o $@
clean:
	rm -f $(OBJS) prog
MK
}

# check_trace FILE RULE: the trace parses and obeys RULE:
#   local-miss  4 compiles and a link, all run here with lookup/execute/upload
#   local-hit   the same, every one cached with a lookup
#   grid        the compiles on worker lanes with queue/input_fetch/execute/upload
#   test        test shards with phases
#   run         one kiln run action
check_trace() {
  "$PY" - "$1" "$2" <<'PY' || fail "trace $1 is not what $2 expects"
import json, sys
path, rule = sys.argv[1], sys.argv[2]
t = json.load(open(path))
assert t["displayTimeUnit"] == "ms"
events = t["traceEvents"]
procs = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
xs = [e for e in events if e["ph"] == "X"]
ts = [e["ts"] for e in xs]
assert ts == sorted(ts), "ts not monotonic"
assert all(e["ts"] >= 0 and e["dur"] >= 0 for e in xs)
actions = [e for e in xs if e["cat"] != "phase"]
def phases(a):
    inside = [e for e in xs if e["cat"] == "phase" and e["pid"] == a["pid"] and e["tid"] == a["tid"]
              and a["ts"] <= e["ts"] and e["ts"] + e["dur"] <= a["ts"] + a["dur"]
              and e["args"]["subject"] == a["args"]["subject"]]
    return [e["name"] for e in inside]
# One thread never holds overlapping actions.
by_thread = {}
for a in actions:
    by_thread.setdefault((a["pid"], a["tid"]), []).append((a["ts"], a["ts"] + a["dur"]))
for spans in by_thread.values():
    spans.sort()
    for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
        assert e0 <= s1, f"overlap on one thread: {spans}"
compiles = sorted(a["args"]["subject"] for a in actions if a["cat"] == "compile")
links = [a for a in actions if a["cat"] == "link"]
if rule in ("local-miss", "local-hit", "grid"):
    assert compiles == ["a.cc", "b.cc", "c.cc", "main.cc"], compiles
    assert len(links) == 1 and links[0]["args"]["subject"] == "prog", links
for a in actions:
    kind, args, ph = a["cat"], a["args"], phases(a)
    where = procs[a["pid"]]
    assert ph, f"{args['subject']} has no phases"
    if rule == "local-miss" and kind in ("compile", "link"):
        assert not args["cached"] and where == "local", args
        assert ph == ["lookup", "execute", "upload"], (args["subject"], ph)
        assert args["outcome"] in ("miss_local", "link_miss"), args
        assert args["action_digest"], args
    elif rule == "local-hit" and kind in ("compile", "link"):
        assert args["cached"] and where == "local", args
        assert args["outcome"] in ("direct_hit", "link_hit"), args
        assert ph == ["lookup"], ph
    elif rule == "grid" and kind == "compile":
        assert args["outcome"] in ("miss_remote", "miss_remote_headers"), args
        assert where.startswith("worker "), (where, args)
        assert ph == ["lookup", "queue", "input_fetch", "execute", "upload"], ph
    elif rule == "test":
        assert kind == "test", kind
        assert "execute" in ph, ph
    elif rule == "run":
        assert kind == "run", kind
if rule == "test":
    assert len(actions) >= 2, f"{len(actions)} test actions"
if rule == "run":
    assert len(actions) == 1, actions
print(json.dumps(t["otherData"]))
PY
}

cd "$WORK"
make_project proj
cd proj

echo "-- a local build: every compile and the link recorded with its phases"
make -j2 CXX="$KILN g++" >"$WORK/make1.log" 2>&1 || fail "make failed: $(cat "$WORK/make1.log")"
[ "$(./prog)" -gt 0 ] || fail "prog does not run"
expect_exit 0 "$KILN" trace -o t1.json
grep -q "kiln trace: wrote t1.json (5 actions" "$WORK/err" || fail "kiln trace said: $(cat "$WORK/err")"
check_trace t1.json local-miss >/dev/null
first=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["otherData"]["invocation"])' t1.json)
[ -n "$first" ] || fail "no invocation in otherData"

# The first build's id was derived from the build driver above it (make,
# or ctest when ctest runs this script: then every build here shares it),
# so the rebuild is named, as CI names its jobs.
echo "-- a rebuild (another invocation): every action a hit, marked cached"
make clean >/dev/null
KILN_INVOCATION_ID=rebuild-2 make -j2 CXX="$KILN g++" >"$WORK/make2.log" 2>&1 ||
  fail "make failed: $(cat "$WORK/make2.log")"
expect_exit 0 "$KILN" trace -o t2.json
check_trace t2.json local-hit >/dev/null
second=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["otherData"]["invocation"])' t2.json)
[ "$second" = rebuild-2 ] || fail "the most recent invocation is $second, not rebuild-2"
# The first is still there by its id; -o - writes to stdout.
expect_exit 0 "$KILN" trace "$first" -o -
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["otherData"]["invocation"]==sys.argv[2]' \
  "$WORK/out" "$first" || fail "kiln trace $first -o - is not that trace"

echo "-- kiln trace --list: newest first, with start time and action count"
expect_exit 0 "$KILN" trace --list
[ "$(wc -l <"$WORK/out")" -eq 2 ] || fail "--list: $(cat "$WORK/out")"
head -1 "$WORK/out" | grep -q "^$second .* 5 actions" || fail "--list: $(cat "$WORK/out")"
sed -n 2p "$WORK/out" | grep -q "^$first .* 5 actions" || fail "--list: $(cat "$WORK/out")"

echo "-- a failed compile is recorded with its exit code; the default output is trace.json"
printf 'int broken() { return 0 }\n' >broken.cc
KILN_INVOCATION_ID=failing expect_exit 1 "$KILN" g++ -c broken.cc -o broken.o
expect_exit 0 "$KILN" trace failing
[ -f trace.json ] || fail "kiln trace wrote no trace.json"
"$PY" -c '
import json, sys
xs = [e for e in json.load(open("trace.json"))["traceEvents"] if e["ph"] == "X" and e["cat"] == "compile"]
assert len(xs) == 1 and xs[0]["args"]["outcome"] == "compile_failed" and xs[0]["args"]["exit_code"] == 1, xs
' || fail "the failed compile's record: $(cat trace.json)"
rm -f trace.json broken.cc

echo "-- a journal that cannot be written fails no build: one line in KILN_LOGFILE"
mkdir -p "$WORK/nojournal"
printf 'not a directory\n' >"$WORK/nojournal/invocations"
make clean >/dev/null
KILN_DIR="$WORK/nojournal" KILN_LOGFILE="$WORK/nojournal.log" make -j2 CXX="$KILN g++" >"$WORK/make-nj.log" 2>&1 ||
  fail "make failed with an unwritable journal: $(cat "$WORK/make-nj.log")"
grep -q "journal: " "$WORK/nojournal.log" || fail "no journal line in the log: $(cat "$WORK/nojournal.log")"
! grep -q "kiln:" "$WORK/make-nj.log" || fail "kiln said something to the build: $(cat "$WORK/make-nj.log")"

echo "-- KILN_JOURNAL=false writes nothing"
make clean >/dev/null
KILN_JOURNAL=false make -j2 CXX="$KILN g++" >"$WORK/make3.log" 2>&1 || fail "make failed"
expect_exit 0 "$KILN" trace --list
[ "$(wc -l <"$WORK/out")" -eq 3 ] || fail "KILN_JOURNAL=false recorded: $(cat "$WORK/out")"

echo "-- bad input: unknown id (3), invalid id (2), unwritable output (1, nothing written)"
expect_exit 3 "$KILN" trace no-such-build
expect_err "kiln: error: no invocation no-such-build (kiln trace --list shows the known ones)"
expect_exit 2 "$KILN" trace 'bad/id'
expect_err "kiln: error: 'bad/id' is not an invocation id"
expect_exit 2 "$KILN" trace ..
expect_err "kiln: error: '..' is not an invocation id"
expect_exit 1 "$KILN" trace -o "$WORK/no-such-dir/t.json"
expect_err "kiln: error: cannot write the trace"
[ ! -e "$WORK/no-such-dir" ] || fail "kiln trace created the missing directory"
mkdir "$WORK/adir"
expect_exit 1 "$KILN" trace -o "$WORK/adir"
expect_err "kiln: error: cannot write the trace"
[ -z "$(ls -A "$WORK/adir")" ] || fail "kiln trace left files in $WORK/adir: $(ls -A "$WORK/adir")"
expect_exit 2 "$KILN" trace --list "$first"
expect_err "kiln: error: kiln trace --list takes no invocation"
KILN_DIR="$WORK/empty-cache" expect_exit 3 "$KILN" trace
expect_err "kiln: error: no invocations recorded in"

echo "-- kiln test: one record per shard, with the executor's phases"
SUITE=$WORK/fixture_skewed_suite
cp "$FIX/fixture_skewed_suite" "$SUITE"
KILN_INVOCATION_ID=tests-1 expect_exit 0 "$KILN" test --shards 2 -j 2 --env FIXTURE_TIME_SCALE=0.05 -- "$SUITE"
expect_exit 0 "$KILN" trace tests-1 -o tt.json
other=$(check_trace tt.json test)
"$PY" -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["invocation"] == "tests-1" and " test " in o["command"], o
' "$other" || fail "kiln test invocation: $other"

echo "-- a grid: compiles on worker lanes, the CI id and labels in otherData"
start_grid grid 2

# A fresh local cache: every compile a miss, run by a worker.
make clean >/dev/null
export KILN_SCHEDULER=$GRID
KILN_DIR="$WORK/cache2" KILN_INVOCATION_ID=ci-42 KILN_LABELS=ticket=BANK-1 \
  make -j2 CXX="$KILN g++" >"$WORK/make4.log" 2>&1 || fail "grid make failed: $(cat "$WORK/make4.log")"
[ "$(./prog)" -gt 0 ] || fail "prog from the grid does not run"
KILN_DIR="$WORK/cache2" expect_exit 0 "$KILN" trace ci-42 -o g.json
other=$(check_trace g.json grid)
"$PY" -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["invocation"] == "ci-42", o
assert o["labels"] == {"ticket": "BANK-1"}, o
' "$other" || fail "otherData: $other"

echo "-- kiln test and kiln run on the grid: on worker lanes"
KILN_DIR="$WORK/cache2" KILN_INVOCATION_ID=grid-tests expect_exit 0 "$KILN" test --shards 2 --no-cache \
  --env FIXTURE_TIME_SCALE=0.05 -- "$SUITE"
KILN_DIR="$WORK/cache2" expect_exit 0 "$KILN" trace grid-tests -o gt.json
check_trace gt.json test >/dev/null
"$PY" -c '
import json, sys
t = json.load(open(sys.argv[1]))
procs = {e["pid"]: e["args"]["name"] for e in t["traceEvents"] if e["ph"] == "M" and e["name"] == "process_name"}
shards = [e for e in t["traceEvents"] if e["ph"] == "X" and e["cat"] == "test"]
assert shards and all(procs[e["pid"]].startswith("worker ") for e in shards), [procs[e["pid"]] for e in shards]
' gt.json || fail "grid test shards are not on worker lanes"
printf 'x\n' >in.txt
KILN_DIR="$WORK/cache2" KILN_INVOCATION_ID=grid-run expect_exit 0 "$KILN" run -i in.txt -o out.txt -- sh -c 'cp in.txt out.txt'
KILN_DIR="$WORK/cache2" expect_exit 0 "$KILN" trace grid-run -o gr.json
check_trace gr.json run >/dev/null

echo "trace: all scenarios passed"
