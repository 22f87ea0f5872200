#!/usr/bin/env bash
# The systemd units of scripts/deploy/systemd/, as install.sh installs
# them (into a scratch root): `systemd-analyze verify` finds nothing to say
# about them (their /usr/local/bin being the scratch root's, so that
# ExecStart= is checked too), their
# `systemd-analyze security` exposure stays at most 2.0 for the scheduler
# and 3.0 for the workers (the scores are printed), kiln-worker@.service
# stays kiln-worker.service with instance names, and a broken unit is
# reported (so that a silent verify means something). Neither command needs
# systemd as PID 1.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
units=$(cd "$(dirname "$0")/../../scripts/deploy/systemd" && pwd)
BIN=$(cd "$(dirname "$KILN")" && pwd)

"$(dirname "$0")/../../scripts/install-packages.sh" systemd
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing after installing systemd"

# install.sh into a scratch root; the units it installed are the ones
# checked, pointing at the binaries it installed.
DESTDIR=$WORK/root "$units/install.sh" "$BIN/.." >"$WORK/install.out" 2>&1 ||
  fail "install.sh failed: $(cat "$WORK/install.out")"
root=$WORK/root
for f in usr/local/bin/kiln-scheduler usr/local/bin/kiln-worker usr/local/bin/kiln-run-as \
  etc/kiln/scheduler.env etc/kiln/worker.env usr/local/share/doc/kiln/deploy.md \
  etc/sysusers.d/kiln.conf; do
  [ -e "$root/$f" ] || fail "install.sh did not install /$f"
done
# The worker's user, as systemd-sysusers makes it from kiln.sysusers.
systemd-sysusers --root="$root" >"$WORK/sysusers.out" 2>&1 || fail "systemd-sysusers: $(cat "$WORK/sysusers.out")"
grep -q '^kiln-worker:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$root/etc/passwd" ||
  fail "systemd-sysusers made no user kiln-worker: $(cat "$WORK/sysusers.out")"
mkdir -p "$WORK/units"
for f in "$root"/etc/systemd/system/*.service; do
  cmp -s "$f" "$units/$(basename "$f")" || fail "install.sh installed a different $(basename "$f")"
  sed "s|/usr/local/bin/|$root/usr/local/bin/|g" "$f" >"$WORK/units/$(basename "$f")"
done
[ "$(find "$WORK/units" -name '*.service' | wc -l)" -eq 3 ] || fail "install.sh did not install the three units"
BIN=$root/usr/local/bin
cd "$WORK/units" || exit 1

# verify prints nothing when all is well, and exits 0.
verify() { systemd-analyze verify "$@" >"$WORK/verify.out" 2>&1; }
verify kiln-scheduler.service kiln-worker.service kiln-worker@.service:kiln-worker@ci.service ||
  fail "systemd-analyze verify failed: $(cat "$WORK/verify.out")"
[ ! -s "$WORK/verify.out" ] || fail "systemd-analyze verify warns: $(cat "$WORK/verify.out")"

# A misspelt option, an unknown system call group and a missing program
# must each be reported.
sed 's/^ProtectSystem=strict/ProtectSystm=strict/' kiln-worker.service >broken-a.service
sed 's/^SystemCallFilter=~@clock/SystemCallFilter=~@clocks/' kiln-worker.service >broken-b.service
sed "s|$BIN/kiln-scheduler|$BIN/kiln-no-such-program|" kiln-scheduler.service >broken-c.service
for broken in broken-a broken-b broken-c; do
  verify "$broken.service" || true
  [ -s "$WORK/verify.out" ] || fail "systemd-analyze verify said nothing about $broken.service"
done

# Exposure scores (0 best, 10 worst); --threshold is in tenths.
score() {
  systemd-analyze security --offline=true "$1" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
for unit in kiln-scheduler.service:20 kiln-worker.service:30 kiln-worker@.service:30; do
  name=${unit%:*} limit=${unit#*:}
  got=$(score "$name")
  [ -n "$got" ] || fail "systemd-analyze security printed no score for $name"
  echo "$name: exposure $got"
  systemd-analyze security --offline=true --threshold="$limit" "$name" >/dev/null 2>&1 ||
    fail "$name: exposure $got is over $((limit / 10)).$((limit % 10))"
done

# The template is the plain unit but for the instance's id, store and
# settings file (and its own header comment).
sed -e 's/^Description=kiln worker %i /Description=kiln worker /' -e 's/%H-%i/%H/' \
  -e '/worker-%i\.env$/d' -e 's/worker-%i/worker/g' kiln-worker@.service | sed -n '/^\[Unit\]/,$p' >template.plain
sed -n '/^\[Unit\]/,$p' kiln-worker.service >worker.plain
diff -u worker.plain template.plain >"$WORK/diff" ||
  fail "kiln-worker@.service differs from kiln-worker.service beyond the instance: $(cat "$WORK/diff")"
echo "deploy_systemd: verify clean, scores within limits"
