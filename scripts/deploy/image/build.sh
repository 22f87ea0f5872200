#!/usr/bin/env bash
# Builds a container image of kiln from Debian packages and this tree's
# binaries, with no registry but Debian's package mirror:
#
#   scripts/deploy/image/build.sh BUILD_DIR [TAG]     (TAG: localhost/kiln:latest)
#
# 1. The runtime packages are the ones that own the libraries the binaries
#    in BUILD_DIR/bin load (ldd, then dpkg -S on this Debian 12 host), plus
#    bubblewrap (the sandbox) and tini (PID 1: forwards SIGTERM, reaps).
#    KILN_IMAGE_PACKAGES adds more (e.g. "g++ make" for compile workers).
# 2. mmdebstrap makes a minimal Debian 12 root file system with them
#    (variant essential: no apt), from the mirrors in this host's APT
#    sources (KILN_IMAGE_SOURCES names another sources file), with a user
#    kiln (uid and gid 10001) owning /var/lib/kiln.
# 3. The binaries, stripped, go to /usr/local/bin (kiln-run-as beside
#    kiln-worker), and `podman import` makes the image: entrypoint tini,
#    user kiln, ports 7010 (clients), 7011 (workers), 9090 (HTTP).
#
# KILN_IMAGE_CACHE=DIR keeps step 2's tarball, named by a digest of all
# that goes into it (package list, sources, this script), so the next
# build with the same inputs skips mmdebstrap. A cached tarball is used
# only if its checksum still matches and it is younger than
# KILN_IMAGE_CACHE_DAYS (7): Debian's security updates get in within a
# week. One build at a time per cache (flock); a cache directory other
# users could write to is not used.
#
# Needs root (mmdebstrap's root mode, podman's root store); installs
# mmdebstrap and podman with scripts/install-packages.sh. Prints the tag
# and the image's size.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [TAG]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
build_dir=$(cd "$1" && pwd) || usage
tag=${2:-localhost/kiln:latest}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
die() { echo "build.sh: error: $*" >&2; exit 1; }

binaries=(kiln kiln-grid kiln-scheduler kiln-worker kiln-run-as)
for b in "${binaries[@]}"; do
  [ -x "$build_dir/bin/$b" ] || die "$build_dir/bin/$b is missing (build the targets ${binaries[*]})"
done
[ "$(id -u)" -eq 0 ] || die "run as root: mmdebstrap builds the root file system as root, podman imports into root's store"
# shellcheck source=/dev/null
. /etc/os-release
if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
  die "the binaries must come from a Debian 12 host: the image's libraries are Debian 12's (this is ${PRETTY_NAME:-unknown})"
fi

"$repo/scripts/install-packages.sh" mmdebstrap podman

# --- 1. the package list -------------------------------------------------
# The package owning each library a binary loads. dpkg knows the merged
# /usr paths, ldd may print /lib ones: try the resolved path, then ldd's.
owner() {
  local lib=$1 real
  real=$(readlink -f "$lib")
  { dpkg -S "$real" 2>/dev/null || dpkg -S "$lib" 2>/dev/null; } | head -1 | cut -d: -f1
}
packages=(bubblewrap tini)
while read -r lib; do
  pkg=$(owner "$lib")
  [ -n "$pkg" ] || die "no Debian package owns $lib (needed by a binary in $build_dir/bin)"
  packages+=("$pkg")
done < <(for b in "${binaries[@]}"; do ldd "$build_dir/bin/$b" 2>/dev/null || true; done |
  awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)
read -r -a extra <<<"${KILN_IMAGE_PACKAGES:-}"
packages+=("${extra[@]}")
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
echo "build.sh: packages: ${packages[*]}" >&2

sources=${KILN_IMAGE_SOURCES:-}
if [ -z "$sources" ]; then
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [ -s "$f" ] && { sources=$f; break; }
  done
fi
if [ -z "$sources" ] || [ ! -s "$sources" ]; then
  die "no APT sources found; set KILN_IMAGE_SOURCES to a sources file"
fi

# --- 2. the root file system --------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The kiln user, the state directory, and fewer files: no manuals,
# translations or documentation but the copyright files. mmdebstrap runs
# the hook with the root's path as $1.
# shellcheck disable=SC2016
hook='set -e
echo "kiln:x:10001:10001:kiln:/var/lib/kiln:/usr/sbin/nologin" >> "$1/etc/passwd"
echo "kiln:x:10001:" >> "$1/etc/group"
echo "kiln:!:19000::::::" >> "$1/etc/shadow"
mkdir -p "$1/var/lib/kiln" "$1/etc/kiln"
chown 10001:10001 "$1/var/lib/kiln"
chmod 0750 "$1/var/lib/kiln"'
# merged-usr's hooks make the /usr symlinks themselves: without them apt
# pulls in the usrmerge package, and perl with it (30 MB).
mmdebstrap_args=(--variant=essential --mode=root --format=tar
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --include="$(IFS=,; echo "${packages[*]}")"
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --customize-hook="$hook")

rootfs=$work/rootfs.tar
make_rootfs() {
  mmdebstrap --quiet "${mmdebstrap_args[@]}" bookworm "$1" "$sources" ||
    die "mmdebstrap failed (it needs Debian's mirror, named in $sources)"
}
# A cache another user could write to could hand us their root file
# system: the cache directory and every directory above it must belong to
# root or to us and be writable by nobody else (or sticky, as /var/tmp).
cache_is_private() {
  local dir
  dir=$(cd "$1" && pwd -P) || return 1
  while :; do
    local owner mode
    owner=$(stat -c %u "$dir") mode=$(stat -c %a "$dir")
    if [ "$owner" != 0 ] && [ "$owner" != "$(id -u)" ]; then return 1; fi
    if [ $((8#$mode & 8#022)) -ne 0 ] && [ $((8#$mode & 8#1000)) -eq 0 ]; then return 1; fi
    [ "$dir" = / ] && return 0
    dir=$(dirname "$dir")
  done
}
if [ -n "${KILN_IMAGE_CACHE:-}" ]; then
  mkdir -p "$KILN_IMAGE_CACHE"
  if ! cache_is_private "$KILN_IMAGE_CACHE"; then
    echo "build.sh: $KILN_IMAGE_CACHE (or a directory above it) may be written by other users: not using it" >&2
    unset KILN_IMAGE_CACHE
  fi
fi
if [ -n "${KILN_IMAGE_CACHE:-}" ]; then
  key=$({
    echo "kiln image rootfs 1" # bump when make_rootfs changes in a way its arguments do not show
    printf '%s\n' "${mmdebstrap_args[@]}"
    cat "$sources"
  } | sha256sum | cut -c1-24)
  cached=$KILN_IMAGE_CACHE/rootfs-$key.tar
  days=${KILN_IMAGE_CACHE_DAYS:-7}
  exec 9>"$KILN_IMAGE_CACHE/lock"
  flock 9
  # Under the lock no other build writes here: a temporary tarball is a
  # killed build's. Tarballs of other inputs (another KILN_IMAGE_PACKAGES)
  # stay until they are too old to be used.
  find "$KILN_IMAGE_CACHE" -maxdepth 1 \( -name 'rootfs-*.tar.tmp.*' -o \
    \( -name 'rootfs-*.tar*' -mtime +"$days" \) \) -delete
  fresh=""
  if [ -f "$cached" ] && [ -f "$cached.sha256" ]; then
    if [ -n "$(find "$cached" -mtime -"$days")" ] &&
      (cd "$KILN_IMAGE_CACHE" && sha256sum --quiet -c "$cached.sha256" 2>/dev/null); then
      fresh=1
      echo "build.sh: root file system from the cache: $cached" >&2
    else
      echo "build.sh: cached root file system too old or damaged: building it again" >&2
    fi
  fi
  if [ -z "$fresh" ]; then
    rm -f "$cached" "$cached.sha256"
    make_rootfs "$cached.tmp.$$"
    mv "$cached.tmp.$$" "$cached"
    (cd "$KILN_IMAGE_CACHE" && sha256sum "$(basename "$cached")" >"$cached.sha256")
  fi
  cp "$cached" "$rootfs"
  flock -u 9
else
  make_rootfs "$rootfs"
fi

# --- 3. kiln's binaries, and the image ------------------------------------
revision=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
mkdir -p "$work/add/usr/local/bin" "$work/add/etc"
for b in "${binaries[@]}"; do
  strip -o "$work/add/usr/local/bin/$b" "$build_dir/bin/$b"
done
# What built this image; an action can tell it runs in it.
echo "kiln image $revision" >"$work/add/etc/kiln-image-release"
# Files only: the directories are in the root file system already, and an
# image layer may not name a path twice.
tar --append -f "$rootfs" -C "$work/add" --owner=0 --group=0 --numeric-owner \
  "${binaries[@]/#/./usr/local/bin/}" ./etc/kiln-image-release

podman import --quiet \
  --change 'ENTRYPOINT ["/usr/bin/tini", "--"]' \
  --change 'CMD ["kiln-worker", "--help"]' \
  --change 'USER kiln' \
  --change 'WORKDIR /var/lib/kiln' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'EXPOSE 7010/tcp' --change 'EXPOSE 7011/tcp' --change 'EXPOSE 9090/tcp' \
  --change "LABEL org.opencontainers.image.revision=$revision" \
  --message "kiln $revision from $build_dir" \
  "$rootfs" "$tag" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "$tag"
echo "build.sh: $tag: $((size / 1024 / 1024)) MiB" >&2
