#!/usr/bin/env bash
# The scheduler's pages with real processes on 127.0.0.1, looked at by a real
# browser: `kiln up --workers 2` (which serves the pages on a free loopback
# port and prints where), a small C++ project built with make -j2 through the
# launcher on that grid as one CI invocation (KILN_INVOCATION_ID, KILN_LABELS),
# then headless Chromium (Debian's) opens the status page, the invocations
# page and the invocation's page; their DOM must show both workers, the
# invocation with its ticket and commit, and every compile on the timeline
# on the worker that ran it (as /api/invocations/ID says), and a critical
# path marked; a kiln test run on the same grid counts its flaky test (a
# retry that passed) in the trends. Screenshots of the three pages are kept in
# $KILN_TEST_ARTIFACTS/pages (the build's test-artifacts/ under ctest).
# Chromium is installed when missing; the test is skipped (77) only when
# that cannot be done.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }

if ! command -v chromium >/dev/null; then
  "$repo/scripts/install-packages.sh" chromium >/dev/null 2>&1 ||
    skip "Debian's chromium package cannot be installed here"
fi
artifacts=${KILN_TEST_ARTIFACTS:-$WORK/artifacts}/pages
mkdir -p "$artifacts"

"$KILN" up --workers 2 --port 0 --http-port 0 >"$WORK/up.out" 2>"$WORK/up.err" &
up=$!
# Children first: once kiln up is gone they are no longer its children.
trap 'pkill -9 -P $up 2>/dev/null || true; kill -9 $up 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do grep -q '^kiln: status page ' "$WORK/up.err" && break; sleep 0.05; done
grep -q '^kiln: status page http://127.0.0.1:' "$WORK/up.err" ||
  fail "kiln up printed no status page: $(cat "$WORK/up.err")"
HTTP=$(sed -n 's|^kiln: status page \(http://[^/]*\)/$|\1|p' "$WORK/up.err")
export "$(head -1 "$WORK/up.out")"
for _ in $(seq 1 200); do
  "$KILN" status --json >"$WORK/status.json" 2>/dev/null &&
    python3 -c 'import json,sys; sys.exit(len(json.load(open(sys.argv[1]))["workers"]) != 2)' "$WORK/status.json" &&
    break
  sleep 0.05
done

# Six translation units (two slow to compile, one depending on a header)
# and a link: enough for a timeline with two lanes and a critical path.
mkdir -p "$WORK/proj" && cd "$WORK/proj"
printf 'int shared();\n' >shared.h
for i in 1 2 3 4 5 6; do
  {
    echo '#include "shared.h"'
    if [ "$i" -le 2 ]; then
      # Template recursion: a compile that takes a moment.
      echo "template <int N> struct F { static constexpr long v = F<N - 1>::v + N; };"
      echo "template <> struct F<0> { static constexpr long v = 0; };"
      echo "long unit$i() { return F<800>::v + shared(); }"
    else
      echo "long unit$i() { return $i + shared(); }"
    fi
  } >"unit$i.cc"
done
{
  for i in 1 2 3 4 5 6; do echo "long unit$i();"; done
  echo 'int shared() { return 1; }'
  echo 'int main() { return int(unit1() + unit2() + unit3() + unit4() + unit5() + unit6()) & 0; }'
} >main.cc
cat >Makefile <<EOF
OBJS = main.o unit1.o unit2.o unit3.o unit4.o unit5.o unit6.o
app: \$(OBJS)
	$KILN g++ -o \$@ \$(OBJS)
%.o: %.cc shared.h
	$KILN g++ -O1 -ftemplate-depth=2000 -c \$< -o \$@
EOF
export KILN_INVOCATION_ID=pages-ci-1 KILN_LABELS=ticket=BANK-123,commit=4f2a9c1
make -j2 >"$WORK/make.out" 2>&1 || fail "make failed: $(cat "$WORK/make.out")"
./app || fail "the program built on the grid does not run"

curl -fsS "$HTTP/api/invocations/pages-ci-1" >"$WORK/inv.json" || fail "no /api/invocations/pages-ci-1"
python3 - "$WORK/inv.json" <<'EOF' || fail "the invocation as JSON: $(cat "$WORK/inv.json")"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["summary"]
assert s["id"] == "pages-ci-1", s
labels = {l["name"]: l["value"] for l in s["labels"]}
assert labels == {"ticket": "BANK-123", "commit": "4f2a9c1"}, labels
compiles = [a for a in d["actions"] if a["kind"] == "compile"]
assert len(compiles) == 7, [a["subject"] for a in d["actions"]]
assert all(a["worker"] in ("up-1", "up-2") for a in compiles), compiles
assert all(a["state"] == "done" and not a["cached"] for a in compiles), compiles
assert s["executed"] >= 7 and s["failed"] == 0, s
assert d["critical"], "no critical path"
EOF

# A test run on the same grid as a second invocation: the fixture suite
# (tests/fixtures) with a flaky test (it asks a keeper on loopback whether
# it ran before) and a broken one, one retry each. The flaky test's passing
# retry is the invocation's one flaky test; the broken one's is no such.
FIX=${FIXTURES:?set FIXTURES to the directory of the fixture binaries}
state_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/state"
python3 "$(dirname "$0")/state_keeper.py" "$state_port" "$WORK/state" &
keeper=$!
for _ in $(seq 1 100); do [ -e "$WORK/state/listening" ] && break; sleep 0.05; done
KILN_INVOCATION_ID=pages-ci-2 "$KILN" test --shards 2 --retries 1 --timeout 2 \
  --env FIXTURE_TIME_SCALE=0.05 --env FIXTURE_FAILURES=1 --env "FIXTURE_STATE_PORT=$state_port" \
  --platform network=on -- "$FIX/fixture_skewed_suite" >"$WORK/test.out" 2>&1 && kiln_test=0 || kiln_test=$?
kill "$keeper" 2>/dev/null || true
[ "$kiln_test" = 1 ] || fail "kiln test exited $kiln_test, expected 1 (a broken test): $(tail -5 "$WORK/test.out")"
curl -fsS "$HTTP/api/invocations/pages-ci-2" >"$WORK/inv2.json" || fail "no /api/invocations/pages-ci-2"
python3 - "$WORK/inv2.json" <<'EOF' || fail "the test run as JSON: $(head -c 3000 "$WORK/inv2.json")"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["summary"]
kinds = {a["kind"] for a in d["actions"]}
assert kinds == {"test", "test-retry"}, kinds
assert s["flaky"] == 1, s
assert s["failed"] >= 1, s
assert all(a["subject"].startswith("fixture_skewed_suite ") for a in d["actions"]), d["actions"]
EOF

# A browser looks: the DOM after load, and a screenshot of each page.
browse() {  # URL NAME
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$WORK/chromium" --dump-dom "$1" >"$WORK/$2.html" 2>>"$WORK/chromium.log" ||
    fail "chromium could not open $1: $(tail -5 "$WORK/chromium.log")"
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$WORK/chromium" --hide-scrollbars --window-size=1280,1000 \
    --screenshot="$artifacts/$2.png" "$1" >>"$WORK/chromium.log" 2>&1 ||
    fail "chromium could not take a screenshot of $1: $(tail -5 "$WORK/chromium.log")"
  [ -s "$artifacts/$2.png" ] || fail "no screenshot of $1"
}
browse "$HTTP/" status
browse "$HTTP/invocations" invocations
browse "$HTTP/invocations/pages-ci-1" invocation

python3 - "$WORK" "$WORK/inv.json" <<'EOF' || fail "the pages' DOM"
import json, sys
from html.parser import HTMLParser

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements = []  # (tag, attrs)
        self.text = []
    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
    def handle_data(self, data):
        self.text.append(data)

def parse(name):
    dom = Dom()
    dom.feed(open(f"{sys.argv[1]}/{name}.html").read())
    return dom

def with_class(dom, cls):
    return [a for _, a in dom.elements if cls in a.get("class", "").split()]

status = parse("status")
workers = sorted(a.get("data-worker") for a in with_class(status, "worker"))
assert workers == ["up-1", "up-2"], f"status page workers: {workers}"
assert any(a.get("id") == "workers" for _, a in status.elements), "no workers table"
recent = [a.get("data-invocation") for a in with_class(status, "invocation")]
assert "pages-ci-1" in recent, f"status page invocations: {recent}"

listing = parse("invocations")
assert any(a.get("id") == "trends" for _, a in listing.elements), "no trends"
flaky = [a for _, a in listing.elements if a.get("data-metric") == "flaky"]
assert flaky and flaky[0].get("data-points") == "2", f"flaky trend: {flaky}"
rows = [a.get("data-invocation") for a in with_class(listing, "invocation")]
assert "pages-ci-1" in rows, f"invocations page: {rows}"
assert "BANK-123" in "".join(listing.text), "the ticket is not on the invocations page"

page = parse("invocation")
detail = json.load(open(sys.argv[2]))
expected = {a["subject"]: a["worker"] for a in detail["actions"] if not a["cached"]}
bars = {a.get("data-subject"): a.get("data-worker") for a in with_class(page, "action")}
for subject, worker in expected.items():
    assert bars.get(subject) == worker, f"{subject}: bar on {bars.get(subject)}, ran on {worker}"
critical = [a.get("data-subject") for a in with_class(page, "action") if a.get("data-critical") == "true"]
assert critical, "no bar marked on the critical path"
text = "".join(page.text)
assert "BANK-123" in text and "4f2a9c1" in text, "ticket or commit missing on the invocation page"
for table in ("critical-path", "slowest", "actions"):
    assert any(a.get("id") == table for _, a in page.elements), f"no #{table}"
EOF

curl -s -o /dev/null -w '%{http_code}' "$HTTP/invocations/no-such-one" >"$WORK/code"
[ "$(cat "$WORK/code")" = 404 ] || fail "an unknown invocation is $(cat "$WORK/code"), not 404"
curl -s -o /dev/null -w '%{http_code}' "$HTTP/invocations/..%2f..%2fetc" >"$WORK/code"
[ "$(cat "$WORK/code")" = 404 ] || fail "a bad invocation id is $(cat "$WORK/code"), not 404"

kill -INT $up
wait $up || fail "kiln up exited non-zero after SIGINT"
echo "pages: all scenarios passed (screenshots in $artifacts)"
