#!/usr/bin/env bash
# The scheduler's HTTP endpoint with real processes on 127.0.0.1: a
# kiln-scheduler serving --http-endpoint on a free port (found in its ready
# file) with a bearer token, a kiln-worker, and `kiln run` actions. Then:
# /metrics counts what ran and agrees with `kiln status --json`; a missing
# or wrong token is 401 and counted; other methods are 405, unknown paths
# 404; the probes need no token; `promtool check metrics` accepts the page;
# and a real Prometheus (Debian's) scrapes the scheduler, its query API
# answering kiln_actions_executed_total with the count. Prometheus' own
# package is installed when missing; the test is skipped (exit 77) only
# when that cannot be done.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/grid_lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  "$repo/scripts/install-packages.sh" prometheus >/dev/null 2>&1 ||
    skip "Debian's prometheus package (promtool, prometheus) cannot be installed here"
fi

token_file=$WORK/http-token
(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token_file")
token=$(cat "$token_file")
start_scheduler "$(free_port)" "$(free_port)" --http-endpoint 127.0.0.1:0 \
  --http-token-file "$token_file"
HTTP=$(sed -n 3p "$WORK/scheduler.ready")
[[ $HTTP == http://127.0.0.1:* ]] || fail "no HTTP address in the ready file: $(cat "$WORK/scheduler.ready")"
grep -qF "serving HTTP on ${HTTP#http://} (bearer token)" "$WORK/scheduler.log" ||
  fail "the log does not name the HTTP address: $(cat "$WORK/scheduler.log")"
start_worker w1 2
wait_workers 1
export KILN_SCHEDULER=$CLIENT_EP

# get PATH [TOKEN] [METHOD]: prints "STATUS" then the body.
get() {
  python3 - "$HTTP$1" "${2:-}" "${3:-GET}" <<'EOF'
import sys, urllib.request, urllib.error
url, token, method = sys.argv[1:4]
req = urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None)
if token:
    req.add_header("Authorization", "Bearer " + token)
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); sys.stdout.write(e.read().decode())
EOF
}
# code PATH [TOKEN] [METHOD]: the status only.
code() { get "$@" >"$WORK/reply"; head -1 "$WORK/reply"; }
# value NAME: the sample NAME (exact, labels included) in $WORK/page.
value() { awk -v n="$1" '$1 == n { print $2 }' "$WORK/page"; }
scrape() { get /metrics "$token" >"$WORK/page"; [ "$(head -1 "$WORK/page")" = 200 ] || fail "scrape: $(cat "$WORK/page")"; sed -i 1d "$WORK/page"; }

# --- five actions, one that fails, and a central cache hit ---------------------
mkdir -p "$WORK/proj"
cd "$WORK/proj"
for i in 1 2 3 4 5; do
  "$KILN" run -o "out-$i.txt" -- sh -c "echo $i > out-$i.txt" >/dev/null || fail "action $i failed"
done
expect_exit 3 "$KILN" run -- sh -c 'exit 3'
rm -f out-1.txt
KILN_DIR=$WORK/other-cache "$KILN" run -o out-1.txt -- sh -c "echo 1 > out-1.txt" >/dev/null ||
  fail "the rerun failed"
[ "$(cat out-1.txt)" = 1 ] || fail "the rerun's output: $(cat out-1.txt)"

# The loop publishes once a second: wait for the last request (the cache
# hit) to show.
for _ in $(seq 1 50); do
  scrape
  [ "$(value kiln_actions_executed_total)" = 6 ] && [ "$(value kiln_running_actions)" = 0 ] &&
    [ "$(value kiln_action_cache_hits_total)" = 1 ] && break
  sleep 0.1
done
[ "$(value kiln_actions_executed_total)" = 6 ] || fail "executed: $(grep executed "$WORK/page")"
KILN_SCHEDULER=$CLIENT_EP "$KILN" status --json >"$WORK/status.json"
python3 - "$WORK/status.json" "$WORK/page" <<'EOF' || fail "/metrics and kiln status disagree"
import json, sys
status = json.load(open(sys.argv[1]))
page = {}
for line in open(sys.argv[2]):
    if not line.startswith("#"):
        name, value = line.rsplit(" ", 1)
        page[name] = float(value)
pairs = [("kiln_actions_executed_total", "executed"),
         ("kiln_action_cache_hits_total", "action_cache_hits"),
         ("kiln_action_cache_misses_total", "action_cache_misses"),
         ("kiln_queued_actions", "queued"), ("kiln_running_actions", "running"),
         ("kiln_refused_connections_total", "refused_connections"),
         ("kiln_action_backups_total", "backups"),
         ("kiln_store_blobs", "cache_blobs")]
bad = [(m, page.get(m), s, status.get(s)) for m, s in pairs if page.get(m) != status.get(s)]
bad += [("kiln_workers", page.get("kiln_workers"), "workers", len(status["workers"]))] \
    if page.get("kiln_workers") != len(status["workers"]) else []
for b in bad:
    print("%s=%s but status %s=%s" % b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
[ "$(value kiln_action_cache_hits_total)" = 1 ] || fail "cache hits: $(grep cache "$WORK/page")"
[ "$(value kiln_action_requests_total)" -ge 7 ] || fail "requests: $(grep requests_total "$WORK/page")"
{ [ "$(value kiln_workers)" = 1 ] && [ "$(value kiln_worker_slots)" = 2 ]; } || fail "workers: $(grep worker "$WORK/page")"
[ "$(value kiln_action_execution_seconds_count)" = 6 ] ||
  fail "execution histogram: $(grep execution "$WORK/page")"
[ "$(value 'kiln_action_execution_seconds_bucket{le="+Inf"}')" = 6 ] || fail "+Inf bucket"

# --- promtool accepts the page ----------------------------------------------------
promtool check metrics <"$WORK/page" >"$WORK/promtool.out" 2>&1 ||
  fail "promtool check metrics: $(cat "$WORK/promtool.out")"

# --- the gate: tokens, methods, paths, probes ---------------------------------------
[ "$(code /metrics)" = 401 ] || fail "no token: not 401"
[ "$(code /metrics wrong-token-wrong-token)" = 401 ] || fail "wrong token: not 401"
[ "$(code /nope)" = 401 ] || fail "an unknown path without the token: not 401"
[ "$(code /nope "$token")" = 404 ] || fail "an unknown path: not 404"
[ "$(code /metrics "$token" POST)" = 405 ] || fail "POST: not 405"
[ "$(code /healthz)" = 200 ] || fail "/healthz: $(get /healthz)"
[ "$(code /ready)" = 200 ] || fail "/ready: $(get /ready)"
scrape
[ "$(value kiln_http_unauthorized_requests_total)" = 3 ] ||
  fail "401s counted: $(grep unauthorized "$WORK/page")"

# --- a real Prometheus scrapes it ------------------------------------------------------
prom_port=$(free_port)
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: kiln
    authorization:
      credentials_file: $token_file
    static_configs:
      - targets: ['${HTTP#http://}']
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
  --web.listen-address="127.0.0.1:$prom_port" >"$WORK/prometheus.log" 2>&1 &
PIDS+=("$!")
query() {
  python3 - "http://127.0.0.1:$prom_port/api/v1/query" "$1" <<'EOF'
import json, sys, urllib.parse, urllib.request
try:
    url = sys.argv[1] + "?" + urllib.parse.urlencode({"query": sys.argv[2]})
    reply = json.load(urllib.request.urlopen(url, timeout=5))
    result = reply["data"]["result"]
    print(result[0]["value"][1] if result else "")
except Exception as e:
    print("")
EOF
}
answer=""
for _ in $(seq 1 300); do
  answer=$(query kiln_actions_executed_total)
  [ -n "$answer" ] && break
  kill -0 "${PIDS[-1]}" 2>/dev/null || fail "prometheus died: $(tail -5 "$WORK/prometheus.log")"
  sleep 0.1
done
[ "$answer" = 6 ] || fail "PromQL kiln_actions_executed_total = '$answer'; $(tail -5 "$WORK/prometheus.log")"
[ "$(query 'up{job="kiln"}')" = 1 ] || fail "Prometheus' target is not up"
[ "$(query kiln_queued_actions)" = 0 ] || fail "PromQL kiln_queued_actions = '$(query kiln_queued_actions)'"
echo "metrics: OK (scheduler $HTTP, Prometheus on 127.0.0.1:$prom_port)"
