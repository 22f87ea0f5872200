#!/usr/bin/env bash
# Installs every Debian 12 package kiln needs to build, test and demo.
# Does nothing (and needs no network) when they are all present already.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git
  capnproto libcapnp-dev            # wire and storage format
  libzmq3-dev cppzmq-dev            # transport
  libxxhash-dev xxhash              # digests (xxhsum: the hashing benchmark's baseline)
  liblmdb-dev lmdb-utils            # the store
  libarchive-dev libspdlog-dev libssl-dev
  libcli11-dev nlohmann-json3-dev   # command line, --json
  libpugixml-dev                    # kiln test: GoogleTest XML in, JUnit XML out
  libgtest-dev libgmock-dev clang-format
  python3 procps                    # end-to-end scenarios (JSON checks, pgrep)
  dpkg-dev libbenchmark-dev         # the real project (leveldb from apt-get source) and its tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "kiln: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
