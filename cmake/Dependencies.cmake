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
find_package(pugixml REQUIRED)            # libpugixml-dev: kiln test's XML reports
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)          # liblmdb-dev
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)   # libxxhash-dev
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)   # libsodium-dev: Ed25519 provenance signatures
# libcpp-httplib-dev: the scheduler's HTTP server (/metrics). Debian builds
# it as a library (httplib.h declares, libcpp-httplib.so implements), with
# OpenSSL, zlib and brotli support compiled in; kiln serves plain HTTP.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

# The lean `kiln` executable starts once per compile, so it links what it
# can statically (client/CMakeLists.txt): every target that links these
# wrappers gets the static archive when the executable being linked has the
# property KILN_STATIC_DEPS, the shared library otherwise. Off under a
# sanitizer (its runtime wants the shared libraries) or when an archive is
# missing (and in a KILN_FUZZ build). libxxhash stays shared: Debian's libxxhash.a lacks the
# *_dispatch entry points cas/digest.cpp uses.
option(KILN_STATIC_LAUNCHER "Link capnp, kj, crypto, lmdb and libstdc++ statically into kiln" ON)
set(KILN_STATIC_DEPS_AVAILABLE OFF)
if(KILN_STATIC_LAUNCHER AND KILN_SANITIZE STREQUAL "" AND NOT KILN_FUZZ)
  find_library(KILN_CAPNP_A NAMES libcapnp.a)
  find_library(KILN_KJ_A NAMES libkj.a)
  find_library(KILN_CRYPTO_A NAMES libcrypto.a)
  find_library(KILN_LMDB_A NAMES liblmdb.a)
  if(KILN_CAPNP_A AND KILN_KJ_A AND KILN_CRYPTO_A AND KILN_LMDB_A)
    set(KILN_STATIC_DEPS_AVAILABLE ON)
  else()
    message(STATUS "kiln: a static archive is missing; kiln links capnp, kj, crypto, lmdb shared")
  endif()
endif()
set(kiln_static "$<BOOL:$<TARGET_PROPERTY:KILN_STATIC_DEPS>>")
add_library(kiln_dep_capnp INTERFACE)
add_library(kiln_dep_crypto INTERFACE)
add_library(kiln_dep_lmdb INTERFACE)
if(KILN_STATIC_DEPS_AVAILABLE)
  find_package(Threads REQUIRED)
  target_link_libraries(kiln_dep_capnp INTERFACE
    "$<IF:${kiln_static},${KILN_CAPNP_A};${KILN_KJ_A};Threads::Threads,CapnProto::capnp>")
  target_link_libraries(kiln_dep_crypto INTERFACE
    "$<IF:${kiln_static},${KILN_CRYPTO_A};${CMAKE_DL_LIBS};Threads::Threads,OpenSSL::Crypto>")
  target_link_libraries(kiln_dep_lmdb INTERFACE
    "$<IF:${kiln_static},${KILN_LMDB_A};Threads::Threads,PkgConfig::LMDB>")
  # Headers come from the shared packages' targets either way.
  foreach(dep IN ITEMS capnp=CapnProto::capnp crypto=OpenSSL::Crypto lmdb=PkgConfig::LMDB)
    string(REGEX REPLACE "=.*" "" name "${dep}")
    string(REGEX REPLACE ".*=" "" imported "${dep}")
    target_include_directories(kiln_dep_${name} SYSTEM INTERFACE
      $<TARGET_PROPERTY:${imported},INTERFACE_INCLUDE_DIRECTORIES>)
    target_compile_definitions(kiln_dep_${name} INTERFACE
      $<TARGET_PROPERTY:${imported},INTERFACE_COMPILE_DEFINITIONS>)
  endforeach()
else()
  target_link_libraries(kiln_dep_capnp INTERFACE CapnProto::capnp)
  target_link_libraries(kiln_dep_crypto INTERFACE OpenSSL::Crypto)
  target_link_libraries(kiln_dep_lmdb INTERFACE PkgConfig::LMDB)
endif()
add_library(kiln::dep::capnp ALIAS kiln_dep_capnp)
add_library(kiln::dep::crypto ALIAS kiln_dep_crypto)
add_library(kiln::dep::lmdb ALIAS kiln_dep_lmdb)

# The REAPI front-end (reapi/, kiln-reapi): gRPC and protobuf from Debian
# (libgrpc++-dev, protobuf-compiler-grpc, libprotobuf-dev) and zstd
# (libzstd-dev) for ByteStream's compressed-blobs/zstd. gRPC is the API's
# transport, so there is nothing to write by hand instead; libzstd is the
# format's reference implementation.
find_package(Protobuf REQUIRED)           # protoc, libprotobuf
find_package(gRPC CONFIG REQUIRED)        # gRPC::grpc++, gRPC::grpc_cpp_plugin
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
