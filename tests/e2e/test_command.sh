#!/usr/bin/env bash
# `kiln test` against the fixture suite (tests/fixtures): a GoogleTest
# binary with skewed durations and broken, flaky, crashing and hanging
# tests, and a CTest project around the same suite. Reports are read with
# real parsers (Python's xml.etree and json). Runs here, then on a real
# scheduler with two workers on 127.0.0.1.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"

FIX=${FIXTURES:?set FIXTURES to the directory of the fixture binaries}
HERE=$(cd "$(dirname "$0")" && pwd)
SUITE=$WORK/bin/fixture_skewed_suite
mkdir -p "$WORK/bin" "$WORK/state" && cp "$FIX/fixture_skewed_suite" "$SUITE"
cd "$WORK"
FAST=(--env FIXTURE_TIME_SCALE=0.05)
# Flaky.FailsFirstTime asks a keeper on the host's loopback whether it ran
# before (tests/e2e/state_keeper.py, its state in $WORK/state). The shards
# run sandboxed, so they ask for the network.
state_port=$(free_port)
python3 "$HERE/state_keeper.py" "$state_port" "$WORK/state" &
PIDS+=($!)
FAILING=(--env FIXTURE_FAILURES=1 --env "FIXTURE_STATE_PORT=$state_port" --platform network=on)

# py EXPR FILE: evaluates EXPR with d = the JSON document in FILE.
py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$2"; }
outcome() { py "[t['outcome'] for t in d['tests'] if t['id']=='$1'][0]" "$2"; }
field() { py "[t['$3'] for t in d['tests'] if t['id']=='$1'][0]" "$2"; }

# junit_check FILE EXPECTED_COUNT: the file parses as XML, every testcase
# has name, classname and time, none appears twice, and the count is right.
junit_check() {
  python3 - "$1" "$2" <<'PY' || fail "JUnit file $1 is not what CI expects"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
cases = root.findall("./testsuite/testcase")
keys = [(c.get("classname"), c.get("name")) for c in cases]
assert all(c.get("name") and c.get("classname") and c.get("time") for c in cases)
assert len(keys) == len(set(keys)), "a test appears twice"
assert len(cases) == int(sys.argv[2]), f"{len(cases)} testcases, expected {sys.argv[2]}"
assert sum(int(s.get("tests")) for s in root.findall("testsuite")) == len(cases)
PY
}

listed=$("$SUITE" --gtest_list_tests | grep -c '^  ')
[ "$listed" -eq 46 ] || fail "the fixture lists $listed tests, expected 46"

echo "-- every test once, passing, in 4 shards"
expect_exit 0 "$KILN" test --shards 4 -j 4 "${FAST[@]}" --junit j1.xml --json r1.json -- "$SUITE"
junit_check j1.xml 46
[ "$(py "d['summary']['passed']" r1.json)" -eq 46 ] || fail "not all 46 passed: $(cat "$WORK/out")"
[ "$(py "len([s for s in d['run']['shards'] if not s['cached']])" r1.json)" -eq 4 ] ||
  fail "expected 4 shards: $(py "d['run']" r1.json)"
grep -q "46 passed" "$WORK/out" || fail "no summary line: $(cat "$WORK/out")"

echo "-- a second run with nothing changed is all cached"
expect_exit 0 "$KILN" test --shards 4 -j 4 "${FAST[@]}" --junit j2.xml --json r2.json -- "$SUITE"
junit_check j2.xml 46
[ "$(py "d['summary']['cached']" r2.json)" -eq 46 ] || fail "second run not all cached"
grep -q "(46 cached)" "$WORK/err" || fail "cached run not announced: $(cat "$WORK/err")"
grep -q 'name="cached:T01" value="true"' j2.xml || fail "JUnit does not mark cached tests"

echo "-- another environment, or a changed binary, reruns"
expect_exit 0 "$KILN" test --shards 2 --env FIXTURE_TIME_SCALE=0.04 --json r3.json -- "$SUITE"
[ "$(py "d['summary']['cached']" r3.json)" -eq 0 ] || fail "a changed --env still hit the cache"
printf 'trailing bytes' >>"$SUITE"
expect_exit 0 "$KILN" test --shards 2 "${FAST[@]}" --json r4.json -- "$SUITE"
[ "$(py "d['summary']['cached']" r4.json)" -eq 0 ] || fail "a changed binary still hit the cache"
expect_exit 0 "$KILN" test --no-cache "${FAST[@]}" --json r5.json -- "$SUITE"
[ "$(py "d['summary']['cached']" r5.json)" -eq 0 ] || fail "--no-cache used the cache"

echo "-- broken, flaky, crashing and hanging tests, with one retry"
expect_exit 1 "$KILN" test --shards 3 -j 3 --retries 1 --timeout 2 "${FAST[@]}" "${FAILING[@]}" \
  --junit j6.xml --json r6.json -- "$SUITE"
junit_check j6.xml 46
[ "$(outcome Broken.AlwaysFails r6.json)" = failed ] || fail "Broken is not failed"
[ "$(field Broken.AlwaysFails r6.json attempts)" -eq 2 ] || fail "Broken was not retried once"
[ "$(outcome Flaky.FailsFirstTime r6.json)" = flaky ] || fail "Flaky is not flaky"
[ "$(outcome Crash.Segfault r6.json)" = crashed ] || fail "Crash is not crashed"
[ "$(outcome Hang.Forever r6.json)" = timed_out ] || fail "Hang is not timed out"
# Nothing else was lost with the crashing and hanging shards.
[ "$(py "d['summary']['passed']" r6.json)" -eq 42 ] || fail "the other 42 did not all pass"
grep -q "broken on purpose" "$WORK/err" || fail "the failing test's output is not shown"
grep -q "about to crash on purpose" "$WORK/err" || fail "the crashing test's output is not shown"
python3 - j6.xml <<'PY' || fail "JUnit does not tell flaky from broken"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = {c.get("name"): c for c in root.iter("testcase")}
assert cases["AlwaysFails"].find("failure") is not None
assert "broken on purpose" in cases["AlwaysFails"].find("failure").get("message")
flaky = cases["FailsFirstTime"]
assert flaky.find("failure") is None and flaky.find("error") is None
assert flaky.find("*") is None, "a flaky testcase holds nothing"
props = {p.get("name"): p.get("value") for p in root.iter("property")}
assert props.get("flaky:FailsFirstTime") == "true" and props.get("attempts:FailsFirstTime") == "2"
assert "flaky: FailsFirstTime passed on attempt 2" in root.find("testsuite[@name='Flaky']/system-out").text
assert cases["Segfault"].find("error").get("type") == "crash"
assert cases["Forever"].find("error").get("type") == "timeout"
PY

echo "-- failures are never cached; the passing tests of that run are"
for _ in 1 2; do
  expect_exit 1 "$KILN" test --shards 3 -j 3 --timeout 2 "${FAST[@]}" "${FAILING[@]}" --json r7.json \
    -- "$SUITE" --gtest_filter='Broken.*:Skewed.T0*'
done
[ "$(field Broken.AlwaysFails r7.json cached)" = False ] || fail "a failure came from the cache"
[ "$(field Skewed.T01 r7.json cached)" = True ] || fail "a passing test of a failing run was not cached"

echo "-- flaky passes the run, unless --flaky-fails"
rm -f "$WORK/state/Flaky.FailsFirstTime"
expect_exit 0 "$KILN" test --retries 2 "${FAILING[@]}" --json r8.json -- "$SUITE" --gtest_filter='Flaky.*'
[ "$(outcome Flaky.FailsFirstTime r8.json)" = flaky ] || fail "not reported flaky"
rm -f "$WORK/state/Flaky.FailsFirstTime"
expect_exit 1 "$KILN" test --retries 2 --flaky-fails "${FAILING[@]}" -- "$SUITE" --gtest_filter='Flaky.*'

echo "-- recorded durations improve the split"
# Time scale 0.3: heavy tests of 0.6, 0.54 and 0.45 s among 40. The first
# plan knows no durations; the second is planned from the first's.
export KILN_DIR=$WORK/cache-split
SPLIT=(--no-cache --shards 4 -j 4 --env FIXTURE_TIME_SCALE=0.3 -- "$SUITE" --gtest_filter='Skewed.*')
expect_exit 0 "$KILN" test --json s1.json "${SPLIT[@]}"
expect_exit 0 "$KILN" test --json s2.json "${SPLIT[@]}"
longest() { py "max(s['wall_ms'] for s in d['run']['shards'])" "$1"; }
planned() { py "max(s['estimate_ms'] for s in d['run']['shards'])" "$1"; }
bound=$(py "max(max(t['time_ms'] for t in d['tests']), sum(t['time_ms'] for t in d['tests'])/4)" s1.json)
echo "   first plan: longest shard $(longest s1.json) ms; recorded plan: $(longest s2.json) ms" \
  "(planned $(planned s2.json) ms; lower bound $bound ms)"
python3 -c "import sys; sys.exit(0 if $(planned s2.json) <= 1.10 * $bound else 1)" ||
  fail "the recorded plan's longest shard is over 1.10x the lower bound"
# The longest shard by the tests' own times (GoogleTest's, of sleeps): the
# load of the machine barely moves them, unlike the shards' wall times.
by_tests() {
  py "max(sum(t['time_ms'] for t in d['tests'] if t['id'] in s['test_ids']) for s in d['run']['shards'])" "$1"
}
echo "   by the tests' own times: first plan $(by_tests s1.json) ms, recorded plan $(by_tests s2.json) ms"
python3 -c "import sys; sys.exit(0 if $(by_tests s2.json) < 0.9 * $(by_tests s1.json) else 1)" ||
  fail "recorded durations did not shorten the longest shard"
export KILN_DIR=$WORK/cache

echo "-- queue mode runs every test once"
expect_exit 0 "$KILN" test --queue -j 3 --no-cache "${FAST[@]}" --junit q.xml --json q.json -- "$SUITE"
junit_check q.xml 46
grep -q '"label": "batch' q.json || fail "queue mode made no batches"

echo "-- a binary following the sharding environment"
expect_exit 0 "$KILN" test --sharding-env --shards 3 "${FAST[@]}" --junit e.xml -- "$SUITE"
junit_check e.xml 3
grep -q "TEST_SHARD_STATUS_FILE" "$WORK/err" && fail "GoogleTest honours sharding, but kiln warned"
expect_exit 0 "$KILN" test --sharding-env --shards 2 -- "$FIX/fixture_not_a_test"
grep -q "did not touch TEST_SHARD_STATUS_FILE" "$WORK/err" || fail "no warning for a binary that ignores sharding"

echo "-- bad input"
expect_exit 2 "$KILN" test -- "$FIX/fixture_not_a_test"
expect_err "not a GoogleTest list"
expect_exit 2 "$KILN" test --junit bad.xml -- "$FIX/fixture_bad_xml"
grep -q "^kiln: error: fixture_bad_xml wrote an invalid XML report" "$WORK/err" || fail "bad XML: $(cat "$WORK/err")"
junit_check bad.xml 1
expect_exit 4 "$KILN" test -- "$SUITE" --gtest_filter=No.Such
expect_err "no tests found"
expect_exit 2 "$KILN" test --ctest "$WORK/no-such-dir"
expect_err "no such directory"
expect_exit 2 "$KILN" test --ctest "$WORK/bin"
expect_err "not a CTest build directory"
expect_exit 2 "$KILN" test -- "$WORK/no-such-binary"
expect_err "not found"
expect_exit 2 "$KILN" test --shards zero -- "$SUITE"
expect_err "--shards"
expect_exit 2 "$KILN" test -R x -- "$SUITE"
expect_err "need --ctest"

echo "-- a CTest project"
cmake -S "$(dirname "$0")/../fixtures/ctest_project" -B "$WORK/ctp" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release >"$WORK/ctp.log" 2>&1 || fail "ctest_project: $(tail "$WORK/ctp.log")"
ninja -C "$WORK/ctp" >>"$WORK/ctp.log" 2>&1 || fail "ctest_project: $(tail "$WORK/ctp.log")"
expect_exit 0 "$KILN" test --ctest "$WORK/ctp" -j 4 --junit c1.xml --json c1.json -E '^Skewed'
# 8 tests: Broken, Flaky, Crash, Hang (passing without FIXTURE_FAILURES),
# Output, Env.Scaled (its ENVIRONMENT applied), Cwd.Check (its
# WORKING_DIRECTORY), Disabled.Hang (skipped, never run).
junit_check c1.xml 8
[ "$(py "d['summary']['passed']" c1.json)" -eq 7 ] || fail "CTest: $(cat "$WORK/out")"
[ "$(outcome Disabled.Hang c1.json)" = skipped ] || fail "a DISABLED test was not skipped"
expect_exit 0 "$KILN" test --ctest "$WORK/ctp" -j 4 --json c2.json -E '^Skewed'
[ "$(py "d['summary']['cached']" c2.json)" -eq 7 ] || fail "CTest rerun not cached"
expect_exit 0 "$KILN" test --ctest "$WORK/ctp" -R '^Skewed\.T0' -L fast --json c3.json
[ "$(py "d['summary']['total']" c3.json)" -eq 9 ] || fail "-R/-L selected $(py "d['summary']['total']" c3.json)"
expect_exit 1 "$KILN" test --ctest "$WORK/ctp" -R '^(Broken|Crash)' --env FIXTURE_FAILURES=1 --json c4.json
[ "$(outcome Broken.AlwaysFails c4.json)" = failed ] || fail "CTest failure not reported"
[ "$(outcome Crash.Segfault c4.json)" = crashed ] || fail "CTest crash not reported"
expect_exit 4 "$KILN" test --ctest "$WORK/ctp" -R 'no-such-test'

echo "-- on a scheduler with two workers"
start_scheduler "$(free_port)" "$(free_port)"
start_worker w1 2
start_worker w2 2
wait_workers 2
export KILN_DIR=$WORK/cache-grid
rm -f "$WORK/state/Flaky.FailsFirstTime"
expect_exit 1 env KILN_SCHEDULER="$CLIENT_EP" "$KILN" test --shards 4 -j 4 --retries 1 --timeout 2 \
  "${FAST[@]}" "${FAILING[@]}" --junit g.xml --json g.json -- "$SUITE"
junit_check g.xml 46
[ "$(py "d['summary']['passed']" g.json)" -eq 42 ] || fail "grid: $(cat "$WORK/out")"
[ "$(outcome Flaky.FailsFirstTime g.json)" = flaky ] || fail "grid: flaky not flaky"
[ "$(outcome Hang.Forever g.json)" = timed_out ] || fail "grid: hang not timed out"
py "[s['where'] for s in d['run']['shards']]" g.json | grep -q "$CLIENT_EP" || fail "grid: shards ran elsewhere"
expect_exit 0 env KILN_SCHEDULER="$CLIENT_EP" "$KILN" test --shards 4 "${FAST[@]}" --json g2.json -- "$SUITE"
[ "$(py "d['run']['slots']" g2.json)" -eq 4 ] || fail "grid: slots are not the workers' 2 x 2"
expect_exit 0 env KILN_SCHEDULER="$CLIENT_EP" "$KILN" test --shards 4 "${FAST[@]}" --json g3.json -- "$SUITE"
[ "$(py "d['summary']['cached']" g3.json)" -eq 46 ] || fail "grid: second run not cached"
# Fresh clients (new CI runners: empty local cache) read the pass records
# earlier runners left on the scheduler: nothing runs again.
export KILN_DIR=$WORK/cache-grid-fresh1
expect_exit 0 env KILN_SCHEDULER="$CLIENT_EP" "$KILN" test --shards 4 "${FAST[@]}" --json g4.json -- "$SUITE"
[ "$(py "d['summary']['cached']" g4.json)" -eq 46 ] || fail "grid: a fresh client did not use the shared pass records"
[ "$(py "len(d['run']['shards'])" g4.json)" -eq 0 ] || fail "grid: a fresh client ran shards for recorded passes"
# Other teams' keys (other names in the authorized keys) have records of
# their own: none of these, so their tests run. Two such teams, each on
# a fresh runner, plan alike (blind), so the second one's shards are the
# first one's actions, which the scheduler's action cache answers.
for team in team2 team3; do
  "$KILN" keygen -o "$KEYS/$team" --comment "$team" >/dev/null 2>&1 || fail "kiln keygen"
  echo "client $(sed -n 's/^public = //p' "$KEYS/$team.pub") $team" >>"$KEYS/authorized_keys"
done
kill -HUP "$SCHED_PID"
sleep 0.5
for team in team2 team3; do
  KILN_DIR=$WORK/cache-$team expect_exit 0 env KILN_SCHEDULER="$CLIENT_EP" KILN_CLIENT_KEY="$KEYS/$team.key" \
    "$KILN" test --shards 4 "${FAST[@]}" --json $team.json -- "$SUITE"
  [ "$(py "len(d['run']['shards'])" $team.json)" -eq 4 ] || fail "grid: $team read another team's pass records"
done
[ "$(py "d['summary']['cached']" team3.json)" -eq 46 ] || fail "grid: team3's shards were not cached"
py "[s['where'] for s in d['run']['shards']]" team3.json | grep -q "cache" || fail "grid: shards not from the cache"

echo "-- shared CI knowledge: a fresh runner plans with the durations others recorded"
# Runner A (fresh) runs the skewed tests on the grid and records their
# durations on the scheduler; runner B (fresh, nothing local) plans the
# same split that A's own machine now plans from its local book.
GSPLIT=(--no-cache --shards 4 -j 4 --env FIXTURE_TIME_SCALE=0.3 -- "$SUITE" --gtest_filter='Skewed.*')
shard_sets() { py "sorted(sorted(s['test_ids']) for s in d['run']['shards'])" "$1"; }
KILN_DIR=$WORK/runner-a expect_exit 0 env KILN_SCHEDULER="$CLIENT_EP" "$KILN" test --json ra.json "${GSPLIT[@]}"
KILN_DIR=$WORK/runner-a expect_exit 0 "$KILN" test --json ra2.json "${GSPLIT[@]}"
KILN_DIR=$WORK/runner-b expect_exit 0 env KILN_SCHEDULER="$CLIENT_EP" "$KILN" test --json rb.json "${GSPLIT[@]}"
[ "$(shard_sets rb.json)" = "$(shard_sets ra2.json)" ] ||
  fail "the fresh runner's plan is not the recorded one: $(shard_sets rb.json) vs $(shard_sets ra2.json)"
[ "$(shard_sets rb.json)" != "$(shard_sets ra.json)" ] || fail "the recorded plan is the blind one"
echo "   fresh runner planned $(planned rb.json) ms for the longest shard (blind: $(planned ra.json) ms)"

echo "-- --shard-index/--total-shards: CI jobs each run one slice, and the slices agree"
# Three fresh runners, one after another (each records durations the next
# could plan differently from): together they run every test exactly once.
for i in 0 1 2; do
  KILN_DIR=$WORK/slice-$i expect_exit 0 env KILN_SCHEDULER="$CLIENT_EP" "$KILN" test --shard-index $i \
    --total-shards 3 --no-cache "${FAST[@]}" --junit slice$i.xml --json slice$i.json -- "$SUITE"
done
python3 - slice0.json slice1.json slice2.json <<'PY' || fail "the slices do not split the suite"
import json, sys
ids = [[t["id"] for t in json.load(open(f))["tests"]] for f in sys.argv[1:]]
every = [i for s in ids for i in s]
assert len(every) == len(set(every)) == 46, f"{len(every)} results, {len(set(every))} distinct"
assert all(s for s in ids), f"an empty slice: {[len(s) for s in ids]}"
print("   slices of", [len(s) for s in ids], "tests")
PY
# Locally too (no scheduler): the same agreement through the local store.
for i in 0 1; do
  KILN_DIR=$WORK/slice-local expect_exit 0 "$KILN" test --shard-index $i --total-shards 2 \
    "${FAST[@]}" --json local$i.json -- "$SUITE"
done
[ "$(python3 -c 'import json,sys; print(sum(len(json.load(open(f))["tests"]) for f in sys.argv[1:]))' \
  local0.json local1.json)" -eq 46 ] || fail "local slices do not split the suite"
# More slices than tests leaves some empty: they pass, saying so.
KILN_DIR=$WORK/slice-many expect_exit 0 "$KILN" test --shard-index 59 --total-shards 60 \
  "${FAST[@]}" -- "$SUITE"
grep -q "slice 60 of 60 holds no tests" "$WORK/err" || fail "an empty slice: $(cat "$WORK/err")"
expect_exit 2 "$KILN" test --shard-index 3 --total-shards 3 -- "$SUITE"
grep -q "^kiln: error: kiln test: --shard-index wants 0 to 2, not 3" "$WORK/err" ||
  fail "slice out of range: $(cat "$WORK/err")"
expect_exit 2 "$KILN" test --shard-index 1 -- "$SUITE"
grep -q "go together" "$WORK/err" || fail "--shard-index alone: $(cat "$WORK/err")"
echo "PASS"
