#!/usr/bin/env bash
# Runs a test command as an ordinary user (nobody) when the tests run as
# root, so that code which behaves differently for root (the sandbox makes
# a user namespace only for an ordinary user) is tested both ways on one
# machine. Exits 77 (CTest's SKIP_RETURN_CODE) when already an ordinary
# user: then the ordinary path is what the other tests ran.
#
#   tests/as_user.sh PROGRAM [ARG...]
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "as_user: not root: the tests already ran as an ordinary user"
  exit 77
fi
# The program may sit where nobody cannot reach it (a build tree under
# /root): run a copy from a private directory nobody owns.
dir=$(mktemp -d "${TMPDIR:-/tmp}/kiln-as-user.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cp "$1" "$dir/program"
chown -R nobody:nogroup "$dir"
shift
cd "$dir"
setpriv --reuid nobody --regid nogroup --clear-groups \
  env HOME="$dir" TMPDIR="$dir" "$dir/program" "$@"
