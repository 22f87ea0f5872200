#!/usr/bin/env bash
# `kiln explain` and `kiln provenance` on what the launcher really built on
# a real grid (`kiln up --workers 2`): the object names the worker that
# compiled it (its id as `kiln status` lists it), its source as an input
# with its digest, and a miss; built again, a hit; its provenance is a
# Statement for its SHA-256, signed and verified, and a flipped payload byte
# fails. Needs the launcher to write journal records (client/journal.h);
# exits 77 (skipped) while it writes none.
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

source "$(dirname "$0")/up_lib.sh"

start_grid grid 2
export KILN_SCHEDULER=$GRID
workers=$("$KILN" status --json | "$PY" -c 'import json,sys; print(" ".join(x["id"] for x in json.load(sys.stdin)["workers"]))')

mkdir -p "$WORK/proj/src" "$WORK/proj/include" "$WORK/proj/obj"
cd "$WORK/proj" || exit
printf '#pragma once\nint scale(int x);\n' >include/util.h
printf '#include "util.h"\nint scale(int x) { return x * 3; }\n' >src/util.cc
printf '#include <cstdio>\n#include "util.h"\nint main() { std::printf("%%d\\n", scale(14)); }\n' >src/main.cc
# Like ccache, a source changed in the last second is not trusted for a
# direct hit: date the sources back.
touch -d "@$(($(date +%s) - 100))" include/util.h src/*.cc

export KILN_INVOCATION_ID=e2e-grid-1 KILN_LABELS=ticket=BANK-123,commit=4f2a9c
"$KILN" g++ -Iinclude -c src/util.cc -o obj/util.o || fail "compile util.cc"
"$KILN" g++ -Iinclude -c src/main.cc -o obj/main.o || fail "compile main.cc"
"$KILN" g++ obj/util.o obj/main.o -o prog || fail "link"
[ "$(./prog)" = 42 ] || fail "the program does not run"
if ! ls "$KILN_DIR"/invocations/*.jsonl >/dev/null 2>&1; then
  echo "SKIP: the launcher writes no journal records yet"
  exit 77
fi

# The miss: the worker that built it, the source with its digest.
src_digest=$("$KILN" cas put src/util.cc | cut -d' ' -f1)
expect_exit 0 "$KILN" explain --json obj/util.o
"$PY" - "$WORK/out" "$src_digest" "$workers" <<'PYEOF' || fail "explain util.o: $(cat "$WORK/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["kind"] == "compile", j["kind"]
assert j["where"] in sys.argv[3].split(), (j["where"], sys.argv[3])
assert j["cached"] is False and j["outcome"] in ("miss_remote", "miss_remote_headers"), j["outcome"]
assert {"path": "src/util.cc", "digest": sys.argv[2]} in j["inputs"] or \
       any(i["path"].endswith("src/util.cc") and i["digest"] == sys.argv[2] for i in j["inputs"]), j["inputs"]
assert j["labels"] == {"ticket": "BANK-123", "commit": "4f2a9c"}
assert j["invocation"] == "e2e-grid-1"
PYEOF
expect_exit 0 "$KILN" explain obj/util.o
worker=$("$KILN" explain --json obj/util.o | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["where"])')
grep -qF "worker $worker" "$WORK/out" || fail "explain text names no worker: $(cat "$WORK/out")"
grep -qF "miss: executed on the grid" "$WORK/out" || fail "explain text: $(cat "$WORK/out")"
expect_exit 0 "$KILN" explain --json prog
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["kind"] == "link", j' "$WORK/out" ||
  fail "explain prog: $(cat "$WORK/out")"

# Built again: a hit.
export KILN_INVOCATION_ID=e2e-grid-2
rm obj/util.o
"$KILN" g++ -Iinclude -c src/util.cc -o obj/util.o || fail "compile util.cc again"
expect_exit 0 "$KILN" explain --json obj/util.o
"$PY" - "$WORK/out" <<'PYEOF' || fail "explain after a rebuild: $(cat "$WORK/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["cached"] is True and j["description"].startswith("hit"), j["outcome"]
assert j["invocation"] == "e2e-grid-2"
PYEOF

# Provenance: a Statement for the object's SHA-256, signed and verified.
sha=$(sha256sum obj/util.o | cut -d' ' -f1)
expect_exit 0 "$KILN" provenance obj/util.o
"$PY" - "$WORK/out" "$sha" <<'PYEOF' || fail "statement: $(cat "$WORK/out")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["_type"] == "https://in-toto.io/Statement/v1"
assert s["predicateType"] == "https://slsa.dev/provenance/v1"
assert s["subject"][0]["digest"]["sha256"] == sys.argv[2]
PYEOF
expect_exit 0 "$KILN" keygen --signing -o "$WORK/ci"
KILN_SIGNING_KEY="$WORK/ci.sign.key" expect_exit 0 "$KILN" provenance obj/util.o -o "$WORK/env.json"
expect_exit 0 "$KILN" provenance --verify "$WORK/env.json" --key "$WORK/ci.sign.pub" obj/util.o
"$PY" - "$WORK/env.json" "$WORK/tampered.json" <<'PYEOF'
import base64, json, sys
e = json.load(open(sys.argv[1]))
p = bytearray(base64.b64decode(e["payload"]))
p[len(p) // 2] ^= 1
e["payload"] = base64.b64encode(bytes(p)).decode()
json.dump(e, open(sys.argv[2], "w"))
PYEOF
expect_exit 1 "$KILN" provenance --verify "$WORK/tampered.json" --key "$WORK/ci.sign.pub"
expect_err "does not verify"
echo "insight_grid: all scenarios passed"
