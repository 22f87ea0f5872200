#!/usr/bin/env bash
# Installs those of the given Debian packages that are not installed yet
# (apt-get, as root or through sudo); does nothing, and needs no network,
# when all are present. Used by install-deps.sh and by the scripts that
# need more than kiln's own build (real-project tests, benchmarks).
#
#   scripts/install-packages.sh PACKAGE...
set -euo pipefail

missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "kiln: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
