#!/usr/bin/env bash
# Installs kiln's binaries and systemd units on this host (as root):
#
#   scripts/deploy/systemd/install.sh BUILD_DIR
#
#   /usr/local/bin/              kiln, kiln-grid, kiln-scheduler, kiln-worker,
#                                kiln-run-as (stripped where strip is installed)
#   /etc/systemd/system/         kiln-scheduler.service, kiln-worker.service,
#                                kiln-worker@.service
#   /etc/kiln/                   scheduler.env and worker.env, unless they exist
#   /etc/sysusers.d/kiln.conf    the system user kiln-worker (made at once by
#                                systemd-sysusers)
#   /usr/local/share/doc/kiln/   deploy.md, security.md (the units' Documentation=)
#
# It makes no keys and enables nothing: docs/deploy.md says which keys each
# host needs, then `systemctl enable --now kiln-scheduler` (or kiln-worker).
# DESTDIR=DIR installs below DIR instead of / (and makes no user, reloads
# nothing).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
dest=${DESTDIR:-}

for b in kiln kiln-grid kiln-scheduler kiln-worker kiln-run-as; do
  [ -x "$build/bin/$b" ] || { echo "install.sh: error: $build/bin/$b is missing" >&2; exit 1; }
done
install -d "$dest/usr/local/bin" "$dest/etc/systemd/system" "$dest/usr/local/share/doc/kiln" \
  "$dest/etc/sysusers.d"
install -d -m 0755 "$dest/etc/kiln"
strip=()
command -v strip >/dev/null && strip=(-s) # binutils' strip, where there is one
for b in kiln kiln-grid kiln-scheduler kiln-worker kiln-run-as; do
  install -m 0755 "${strip[@]}" "$build/bin/$b" "$dest/usr/local/bin/$b"
done
install -m 0644 "$here"/kiln-scheduler.service "$here"/kiln-worker.service \
  "$here"/kiln-worker@.service "$dest/etc/systemd/system/"
for f in scheduler.env worker.env; do
  [ -e "$dest/etc/kiln/$f" ] || install -m 0644 "$here/$f" "$dest/etc/kiln/$f"
done
install -m 0644 "$repo/docs/deploy.md" "$repo/docs/security.md" "$dest/usr/local/share/doc/kiln/"
install -m 0644 "$here/kiln.sysusers" "$dest/etc/sysusers.d/kiln.conf"
if [ -z "$dest" ]; then
  systemd-sysusers /etc/sysusers.d/kiln.conf
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
fi
echo "installed; keys and enabling: docs/deploy.md (/usr/local/share/doc/kiln/deploy.md)"
