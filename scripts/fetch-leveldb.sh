#!/usr/bin/env bash
# Puts the source of Debian's leveldb (1.23 on bookworm) at DEST, with
# Debian's patches applied, for the launcher's end-to-end scenario and
# benchmark (tests/e2e/leveldb.sh, scripts/bench/launcher.sh).
#
#   scripts/fetch-leveldb.sh DEST [SOURCE_PACKAGE]
#
# SOURCE_PACKAGE (default leveldb) fetches another Debian source package
# the same way (tests/e2e/make_project.sh uses it for lua5.4).
#
# Idempotent: does nothing when DEST/CMakeLists.txt or DEST/Makefile exists.
# Uses `apt-get source`, so it needs a deb-src entry: when the machine has
# none, it adds /etc/apt/sources.list.d/kiln-deb-src.sources (or .list)
# mirroring the machine's own `deb` entries for this release's main
# archive (same URIs, same Signed-By), and runs apt-get update only then,
# or when apt knows no such source package yet. Installs dpkg-dev when
# dpkg-source is missing. Works as root on a bare Debian 12 (sudo otherwise).
set -euo pipefail

dest=${1:?usage: fetch-leveldb.sh DEST [SOURCE_PACKAGE]}
package=${2:-leveldb}
if [ -f "$dest/CMakeLists.txt" ] || [ -f "$dest/Makefile" ]; then exit 0; fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
codename=bookworm
if [ -r /etc/os-release ]; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
fi

updated=0
apt_update() {
  [ "$updated" -eq 1 ] && return 0
  echo "fetch-leveldb: apt-get update" >&2
  $sudo apt-get update -qq
  updated=1
}


has_deb_src() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] && grep -qE '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] && grep -qiE '^Types:.*deb-src' "$f" && return 0
  done
  return 1
}

# Writes the deb-src entry mirroring the existing deb entries of the main
# archive for $codename (not -security/-updates). deb822 stanzas are copied
# field for field (so Signed-By matches: apt refuses conflicting values for
# one repository), with Types/Suites/Components replaced.
add_deb_src() {
  local tmp stanzas lines
  tmp=$(mktemp)
  stanzas=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    stanzas+=$(awk -v suite="$codename" '
      function flush() {
        if (n > 0 && deb && insuite) {
          print "Types: deb-src"; print "Suites: " suite; print "Components: main"
          for (i = 1; i <= n; i++) print keep[i]
          print ""
        }
        n = 0; deb = 0; insuite = 0; skipping = 0
      }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      /^[^[:space:]]/ { skipping = 0 }
      tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1; skipping = 1; next }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) insuite = 1; skipping = 1; next }
      tolower($1) == "components:" { skipping = 1; next }
      /^[[:space:]]/ && skipping { next }
      { keep[++n] = $0 }
      END { flush() }' "$f")
  done
  if [ -n "$stanzas" ]; then
    printf '%s\n' "$stanzas" >"$tmp"
    $sudo install -m 0644 "$tmp" /etc/apt/sources.list.d/kiln-deb-src.sources
  else
    lines=""
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -r "$f" ] || continue
      lines+=$(sed -nE "s/^[[:space:]]*deb([[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+$codename[[:space:]]).*/deb-src\1main/p" "$f")
      lines+=$'\n'
    done
    lines=$(printf '%s' "$lines" | sed '/^$/d' | sort -u)
    [ -n "$lines" ] || lines="deb-src http://deb.debian.org/debian $codename main"
    printf '%s\n' "$lines" >"$tmp"
    $sudo install -m 0644 "$tmp" /etc/apt/sources.list.d/kiln-deb-src.list
  fi
  rm -f "$tmp"
  echo "fetch-leveldb: added a deb-src entry for $codename main" >&2
}

command -v dpkg-source >/dev/null || "$(dirname "$0")/install-packages.sh" dpkg-dev
if ! has_deb_src; then
  add_deb_src
  apt_update
fi
# A deb-src entry whose lists were never downloaded knows no packages yet.
if ! apt-cache showsrc "$package" 2>/dev/null | grep -q '^Package:'; then apt_update; fi

parent=$(dirname "$dest")
mkdir -p "$parent"
stage=$(mktemp -d "$parent/.fetch-$package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# apt-get source downloads the .dsc and tarballs, verifies them and unpacks
# them with dpkg-source -x, which applies debian/patches (3.0 (quilt)).
(cd "$stage" && apt-get source -qq "$package" >/dev/null 2>"$stage/apt.err") ||
  { cat "$stage/apt.err" >&2; echo "fetch-leveldb: apt-get source $package failed" >&2; exit 1; }
src=$(find "$stage" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -n "$src" ] || { echo "fetch-leveldb: apt-get source $package unpacked nothing" >&2; exit 1; }
rm -rf "$dest"
mv "$src" "$dest"
echo "fetch-leveldb: $package $(cd "$dest" && dpkg-parsechangelog -S Version 2>/dev/null || true) at $dest" >&2
