#!/usr/bin/env bash
# `kiln explain` and `kiln provenance` against a journal this script
# writes itself (the format of client/journal.h), with the real kiln and
# kiln-grid: the text and JSON, an unsigned Statement checked against
# sha256sum, keys from `kiln keygen --signing`, a signed envelope that
# verifies (in kiln and in python3-cryptography) and one with a flipped
# payload byte that does not, and every
# bad input (no record, a changed file, a missing file, a directory, key
# files that are malformed or readable by others). insight_grid.sh does the
# same on objects the launcher built on a real grid.
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

mkdir -p "$WORK/proj/obj" "$KILN_DIR/invocations"
cd "$WORK/proj" || exit
printf 'int f(void) { return 1; }\n' >a.c
printf 'object bytes\n' >obj/a.o
printf 'depfile\n' >obj/a.d
digest() { "$KILN" cas put "$1" | cut -d' ' -f1; }
src_digest=$(digest a.c)
obj_digest=$(digest obj/a.o)
dep_digest=$(digest obj/a.d)

inv=e2e-insight-1
cat >"$KILN_DIR/invocations/$inv.json" <<JSON
{"id":"$inv","labels":[["ticket","BANK-123"],["commit","4f2a9c"]],"started_us":1714566896000000,"cwd":"$WORK/proj","command":["make"]}
JSON
cat >"$KILN_DIR/invocations/$inv.jsonl" <<JSON
{"invocation":"$inv","kind":"compile","subject":"a.c","outcome":"miss_remote","cached":false,"where":"host-7-w1","scheduler":"tcp://127.0.0.1:7010","digest_function":"xxh3-128","action_digest":"00112233445566778899aabbccddeeff/140","toolchain":"ffeeddccbbaa99887766554433221100/77","toolchain_path":"/usr/bin/gcc","command":["gcc","-c","a.c","-o","obj/a.o","-MD"],"cwd":"$WORK/proj","inputs":[{"path":"a.c","digest":"$src_digest"}],"outputs":[{"path":"obj/a.o","digest":"$obj_digest"},{"path":"obj/a.d","digest":"$dep_digest"}],"exit_code":0,"start_us":1714566896123456,"end_us":1714566896523456,"phases":[{"name":"lookup","start_us":1714566896123456,"end_us":1714566896124456},{"name":"execute","start_us":1714566896200000,"end_us":1714566896500000}],"pid":4242}
not a record: a process killed mid-write
JSON

# explain: text.
expect_exit 0 "$KILN" explain obj/a.o
for want in "obj/a.o" "$obj_digest (xxh3-128)" "compile of a.c" "miss: executed on the grid" \
  "worker host-7-w1, scheduler tcp://127.0.0.1:7010" "00112233445566778899aabbccddeeff/140" \
  "gcc -c a.c -o obj/a.o -MD" "$src_digest  a.c" "400.0 ms" "execute     300.0 ms" "$inv" \
  "ticket=BANK-123, commit=4f2a9c" "/usr/bin/gcc"; do
  grep -qF -- "$want" "$WORK/out" || fail "kiln explain lacks '$want': $(cat "$WORK/out")"
done
# From another directory, by an absolute path: the same record.
(cd / && "$KILN" explain "$WORK/proj/obj/a.o") | grep -qF "compile of a.c" || fail "absolute path"
# --json.
expect_exit 0 "$KILN" explain --json obj/a.o
"$PY" - "$WORK/out" "$src_digest" <<'PYEOF' || fail "kiln explain --json: $(cat "$WORK/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["where"] == "host-7-w1" and j["cached"] is False and j["outcome"] == "miss_remote"
assert j["inputs"] == [{"path": "a.c", "digest": sys.argv[2]}]
assert j["labels"] == {"ticket": "BANK-123", "commit": "4f2a9c"}
assert j["duration_us"] == 400000 and len(j["phases"]) == 2
PYEOF

# explain: what it cannot explain.
printf 'never built\n' >other.o
expect_exit 3 "$KILN" explain other.o
expect_err "kiln: error: kiln has no record of other.o (it was not built by kiln in the last 100 invocations kept: keep_invocations, or it changed since)"
cp obj/a.o changed.o && printf 'x' >>changed.o
expect_exit 3 "$KILN" explain changed.o
expect_exit 1 "$KILN" explain missing.o
expect_err "kiln: error: missing.o: No such file or directory"
expect_exit 2 "$KILN" explain obj
expect_err "is a directory"
if [ "$(id -u)" -ne 0 ]; then
  cp obj/a.o unreadable.o && chmod 000 unreadable.o
  expect_exit 1 "$KILN" explain unreadable.o
  expect_err "unreadable.o"
fi
# The same bytes under another name: found (the record's own path is named).
cp obj/a.o copy.o
expect_exit 0 "$KILN" explain copy.o
grep -qF "recorded as:  obj/a.o" "$WORK/out" || fail "a copy: $(cat "$WORK/out")"

# provenance, unsigned: an in-toto Statement with the file's SHA-256.
sha=$(sha256sum obj/a.o | cut -d' ' -f1)
expect_exit 0 "$KILN" provenance obj/a.o
"$PY" - "$WORK/out" "$sha" "${obj_digest%/*}" <<'PYEOF' || fail "statement: $(cat "$WORK/out")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["_type"] == "https://in-toto.io/Statement/v1"
assert s["predicateType"] == "https://slsa.dev/provenance/v1"
assert s["subject"][0]["name"] == "obj/a.o"
assert s["subject"][0]["digest"] == {"sha256": sys.argv[2], "kiln-xxh3-128": sys.argv[3]}
p = s["predicate"]
assert p["buildDefinition"]["buildType"] == "urn:kiln:buildType:action:v1"
assert p["buildDefinition"]["externalParameters"]["labels"]["ticket"] == "BANK-123"
assert p["buildDefinition"]["resolvedDependencies"][0]["name"] == "a.c"
assert p["runDetails"]["builder"]["id"] == "urn:kiln:builder:worker:host-7-w1@tcp://127.0.0.1:7010"
assert p["runDetails"]["metadata"]["startedOn"] == "2024-05-01T12:34:56.123456Z"
assert p["runDetails"]["byproducts"][0]["name"] == "obj/a.d"
PYEOF
expect_exit 0 "$KILN" provenance obj/a.o -o "$WORK/prov.json"
cmp -s "$WORK/prov.json" <("$KILN" provenance obj/a.o) || fail "-o differs from stdout"
ls "$WORK"/prov.json.kiln-tmp.* 2>/dev/null && fail "a temporary file was left behind"
expect_exit 3 "$KILN" provenance other.o
expect_exit 1 "$KILN" provenance missing.o
expect_exit 2 "$KILN" provenance obj

# Keys.
expect_exit 0 "$KILN" keygen --signing -o "$WORK/ci" --comment "ci signer"
[ "$(stat -c %a "$WORK/ci.sign.key")" = 600 ] || fail "the secret key is not mode 600"
grep -q '^ed25519-public = ' "$WORK/ci.sign.pub" || fail "public key file: $(cat "$WORK/ci.sign.pub")"
! grep -q seed "$WORK/ci.sign.pub" || fail "the public file holds the seed"
expect_exit 2 "$KILN" keygen --signing -o "$WORK/ci"
expect_err "exists"
expect_exit 0 "$KILN" keygen --signing -o "$WORK/other"

# Signed: a DSSE envelope that verifies with the public key, and for the file.
export KILN_SIGNING_KEY="$WORK/ci.sign.key"
expect_exit 0 "$KILN" provenance obj/a.o -o "$WORK/env.json"
"$PY" - "$WORK/env.json" "$sha" <<'PYEOF' || fail "envelope: $(cat "$WORK/env.json")"
import base64, json, sys
e = json.load(open(sys.argv[1]))
assert e["payloadType"] == "application/vnd.in-toto+json"
assert len(e["signatures"]) == 1 and len(base64.b64decode(e["signatures"][0]["sig"])) == 64
s = json.loads(base64.b64decode(e["payload"]))
assert s["_type"] == "https://in-toto.io/Statement/v1" and s["subject"][0]["digest"]["sha256"] == sys.argv[2]
PYEOF
expect_exit 0 "$KILN" provenance --verify "$WORK/env.json" --key "$WORK/ci.sign.pub"
grep -q '^verified' "$WORK/out" || fail "verify: $(cat "$WORK/out")"
# Any DSSE verifier can check it: PAE and Ed25519 computed apart from kiln
# (python3-cryptography).
"$PY" - "$WORK/env.json" "$WORK/ci.sign.pub" <<'PYEOF' || fail "python's Ed25519 does not verify the envelope"
import base64, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
e = json.load(open(sys.argv[1]))
key = [l.split("=", 1)[1].strip() for l in open(sys.argv[2]) if l.startswith("ed25519-public")][0]
body, kind = base64.b64decode(e["payload"]), e["payloadType"].encode()
pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)
Ed25519PublicKey.from_public_bytes(base64.b64decode(key)).verify(base64.b64decode(e["signatures"][0]["sig"]), pae)
PYEOF
expect_exit 0 "$KILN" provenance --verify "$WORK/env.json" --key "$WORK/ci.sign.pub" obj/a.o
expect_exit 1 "$KILN" provenance --verify "$WORK/env.json" --key "$WORK/ci.sign.pub" other.o
expect_err "not for other.o"
expect_exit 1 "$KILN" provenance --verify "$WORK/env.json" --key "$WORK/other.sign.pub"
expect_err "another key"
# One byte of the payload flipped.
"$PY" - "$WORK/env.json" "$WORK/tampered.json" <<'PYEOF'
import base64, json, sys
e = json.load(open(sys.argv[1]))
p = bytearray(base64.b64decode(e["payload"]))
p[p.index(b"BANK-123")] ^= 1
e["payload"] = base64.b64encode(bytes(p)).decode()
json.dump(e, open(sys.argv[2], "w"))
PYEOF
expect_exit 1 "$KILN" provenance --verify "$WORK/tampered.json" --key "$WORK/ci.sign.pub"
expect_err "does not verify"
printf 'garbage' >"$WORK/garbage.json"
expect_exit 1 "$KILN" provenance --verify "$WORK/garbage.json" --key "$WORK/ci.sign.pub"
expect_exit 1 "$KILN" provenance --verify "$WORK/nonexistent.json" --key "$WORK/ci.sign.pub"
expect_exit 2 "$KILN" provenance --verify "$WORK/env.json"
expect_err "needs --key"

# Bad keys.
printf 'ed25519-public = not-a-key\n' >"$WORK/bad.sign.pub"
expect_exit 2 "$KILN" provenance --verify "$WORK/env.json" --key "$WORK/bad.sign.pub"
expect_err "$WORK/bad.sign.pub"
expect_exit 2 "$KILN" provenance --verify "$WORK/env.json" --key "$WORK/nokey.sign.pub"
expect_err "$WORK/nokey.sign.pub"
chmod 644 "$WORK/ci.sign.key"
expect_exit 2 "$KILN" provenance obj/a.o
expect_err "signing key file $WORK/ci.sign.key may be read by others"
chmod 600 "$WORK/ci.sign.key"
cp "$WORK/ci.sign.pub" "$WORK/pub-only.sign.key" && chmod 600 "$WORK/pub-only.sign.key"
KILN_SIGNING_KEY="$WORK/pub-only.sign.key" expect_exit 2 "$KILN" provenance obj/a.o
expect_err "holds only a public key"
KILN_SIGNING_KEY="$WORK/absent.sign.key" expect_exit 2 "$KILN" provenance obj/a.o
expect_err "$WORK/absent.sign.key"
# A bad key is reported before a missing record.
chmod 644 "$WORK/ci.sign.key"
expect_exit 2 "$KILN" provenance other.o
chmod 600 "$WORK/ci.sign.key"
expect_exit 3 "$KILN" provenance other.o

echo "insight: all scenarios passed"
