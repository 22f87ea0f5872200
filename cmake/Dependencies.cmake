# Every third-party package kiln uses, all from Debian 12
# (scripts/test.sh installs them). Imported targets are named kiln::dep::*
# where the package has no CMake config of its own.
find_package(PkgConfig REQUIRED)
find_package(CapnProto REQUIRED)          # libcapnp-dev, capnproto
find_package(cppzmq REQUIRED)             # cppzmq-dev (+ libzmq3-dev)
find_package(spdlog REQUIRED)             # libspdlog-dev
find_package(OpenSSL REQUIRED)            # libssl-dev: SHA-256 digest function
find_package(GTest REQUIRED)              # libgtest-dev
find_package(CLI11 REQUIRED)              # libcli11-dev: command-line parsing
find_package(nlohmann_json REQUIRED)      # nlohmann-json3-dev: --json output
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)          # liblmdb-dev
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)   # libxxhash-dev
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)
