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
  libxml2-utils                     # xmllint: JUnit files against the schema (tests/e2e/junit_schema.sh)
  libcpp-httplib-dev                # the scheduler's HTTP server (/metrics)
  libsodium-dev                     # Ed25519 signatures of provenance (kiln provenance)
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc  # kiln-reapi: the REAPI's gRPC
  libzstd-dev                       # kiln-reapi: ByteStream's compressed-blobs/zstd
  libgtest-dev libgmock-dev clang-format clang-tidy   # tests, formatting, naming
  prometheus                        # promtool and Prometheus for the /metrics tests (tests/e2e/metrics.sh)
  python3 procps                    # end-to-end scenarios (JSON checks, pgrep)
  python3-cryptography              # tests/e2e/insight.sh checks kiln's Ed25519 signatures apart from libsodium
  bubblewrap                        # the action sandbox (bwrap)
  clang                             # Clang compiles shipped to workers (tests/e2e/compiler_remote.sh)
  dpkg-dev libbenchmark-dev         # the real project (leveldb from apt-get source) and its tests
  python3-grpcio python3-buildstream   # REAPI conformance client: gRPC, and the REAPI v2 stubs buildstream ships (tests/e2e/reapi_conformance.py)
  python3-zstandard zstd            # zstd ByteStream uploads and reads in the REAPI conformance client
  bazel-bootstrap                   # Bazel 4.2, offline, against kiln-reapi (tests/e2e/reapi_bazel.sh)
)

exec "$(dirname "$0")/install-packages.sh" "${packages[@]}"
